/*
 * toolcall_parse.c - the tool-call formats: one parser per model family, from output text to a message.
 *
 * Each parser walks the text once. With `final` false the text is a prefix of what the model will write, and the
 * parser writes only what no continuation can change: content stops before anything that might be the start of a
 * marker, a call appears once its name is known and its arguments have opened, and arguments grow by the prefix
 * the JSON scanner calls safe. With `final` set, unfinished arguments are closed and undecided text becomes content.
 * A parser that meets text it cannot read as a call gives the rest to content unchanged - it never fails.
 */
#include "schema/toolcall.h"

#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Outcomes of reading one call (or a list of them). */
enum {
    R_DONE,  /* read completely; *end set */
    R_STOP,  /* the text ends before anything more can be decided (never when final) */
    R_NOT,   /* not a call: nothing was written; the caller gives the text from the marker on to content */
    R_BROKEN /* a call was written but the text goes wrong (or ends) inside it: c->pos is where content resumes */
};

typedef struct pctx {
    const llamac_tool_parse_params *p;
    const char *t;
    size_t n;
    size_t pos;
    bool final;
    tc_msg *m;
    json_t *tools;   /* p->tools parsed, once a parameter's value needs its schema (NULL: none, or not JSON) */
    bool tools_read; /* p->tools was parsed */
    bool trim_end;   /* white space at the end of the reply is no part of it (DeepSeek V3.2 / V4 with tools) */
} pctx;

#define NAME_MAX_LEN 128

/* ---- small helpers ---- */

static void add_content(pctx *c, size_t from, size_t to) {
    if (to > from) {
        tc_buf_add(&c->m->content, c->t + from, to - from, &c->m->oom);
    }
}

static void add_reasoning(pctx *c, size_t from, size_t to) {
    if (to > from) {
        tc_buf_add(&c->m->reasoning, c->t + from, to - from, &c->m->oom);
    }
}

/* Gives the rest of the text to content. */
static void rest_content(pctx *c, size_t from) {
    add_content(c, from, c->n);
    c->pos = c->n;
}

static size_t find(const pctx *c, size_t from, const char *needle) {
    size_t k = strlen(needle);
    if (from > c->n || k > c->n - from) {
        return SIZE_MAX;
    }
    for (size_t i = from; i + k <= c->n; i++) {
        if (c->t[i] == needle[0] && memcmp(c->t + i, needle, k) == 0) {
            return i;
        }
    }
    return SIZE_MAX;
}

/* Looks for `needle` starting at most `limit` bytes after `from`. 1: found (*at set); 0: it is not there; -1: the
 * text ends too soon to tell (only when not final). The answer depends only on the first limit + strlen(needle)
 * bytes, so a longer text never changes it. */
static int find_within(const pctx *c, size_t from, const char *needle, size_t limit, size_t *at) {
    *at = find(c, from, needle);
    if (*at != SIZE_MAX && *at - from <= limit) {
        return 1;
    }
    if (*at == SIZE_MAX && !c->final && c->n - from < limit + strlen(needle)) {
        return -1;
    }
    return 0;
}

/* 1: text at `at` starts with s; 0: it cannot; -1: the text ends while it still could (only when not final). */
static int starts(const pctx *c, size_t at, const char *s) {
    size_t k = strlen(s), have = at <= c->n ? c->n - at : 0;
    if (have >= k) {
        return memcmp(c->t + at, s, k) == 0;
    }
    if (memcmp(c->t + at, s, have) == 0) {
        return c->final ? 0 : -1;
    }
    return 0;
}

/* For a reply of several messages each further one opened by `next` (Solar Open, Muse Glimmer): before every message
 * but the first, passes `next` at c->pos. False: parsing is over, the text ending too soon to tell, or going on
 * with something else, which is then content. */
static bool next_message(pctx *c, bool first, const char *next) {
    if (first) {
        return true;
    }
    int r = starts(c, c->pos, next);
    if (r <= 0) {
        if (r == 0) {
            rest_content(c, c->pos);
        }
        return false;
    }
    c->pos += strlen(next);
    return true;
}

/* Length of the longest end of text[from, n) that is a proper prefix of one of the markers. */
static size_t held_suffix(const pctx *c, size_t from, const char *const *markers, size_t nm) {
    size_t best = 0;
    for (size_t k = 0; k < nm; k++) {
        size_t ml = strlen(markers[k]);
        for (size_t l = ml - 1; l > best; l--) {
            if (l <= c->n - from && memcmp(c->t + c->n - l, markers[k], l) == 0) {
                best = l;
                break;
            }
        }
    }
    return best;
}

/* Scans from c->pos for the first of the markers. Found: the text before it goes to `to_reasoning ? reasoning :
 * content`, c->pos is at the marker, returns its index. Not found: everything that cannot begin a marker is
 * written and c->pos moves past it (c->trim_end: not past the white space that ends the text); returns -1 (when not
 * final, the caller stops). */
static int scan_until(pctx *c, const char *const *markers, size_t nm, bool to_reasoning) {
    size_t best = SIZE_MAX;
    int which = -1;
    for (size_t k = 0; k < nm; k++) {
        size_t at = find(c, c->pos, markers[k]);
        if (at < best) {
            best = at;
            which = (int)k;
        }
    }
    size_t to = best;
    if (which < 0) {
        to = c->final ? c->n : c->n - held_suffix(c, c->pos, markers, nm);
        /* (white space that may end the reply is held back until more text follows it) */
        while (c->trim_end && to > c->pos && strchr(" \t\r\n", c->t[to - 1])) {
            to--;
        }
    }
    if (to_reasoning) {
        add_reasoning(c, c->pos, to);
    } else {
        add_content(c, c->pos, to);
    }
    c->pos = to;
    return which;
}

/* A character of a tool name. */
static bool name_char(char ch) {
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '_' || ch == '-' ||
           ch == '.';
}

/* The first position at or after `at` that is not white space. */
static size_t ws_at(const pctx *c, size_t at) {
    return at + tc_json_ws(c->t + at, c->n - at);
}

/* A tool's name at c->pos that ends where `end` begins: 1 (*at there), 0 (not a name), -1 (the text ends too soon to
 * tell; only when not final). */
static int name_before(const pctx *c, const char *end, size_t *at) {
    int f = find_within(c, c->pos, end, NAME_MAX_LEN, at);
    if (f <= 0 || *at == c->pos) {
        return f < 0 ? -1 : 0;
    }
    for (size_t i = c->pos; i < *at; i++) {
        if (!name_char(c->t[i])) {
            return 0;
        }
    }
    return 1;
}

/* Skips whitespace; false (stop) when not final and the text ends in it, as what follows is undecided. */
static bool skip_ws(pctx *c) {
    c->pos += tc_json_ws(c->t + c->pos, c->n - c->pos);
    return c->final || c->pos < c->n;
}

static bool is_space(char ch) {
    return ch == ' ' || ch == '\n' || ch == '\r' || ch == '\t';
}

/* Consumes the white space characters `ws` one by one, each only where it is (llama.cpp's optspace around a marker).
 * False: the text ends before that is decided (only when not final). */
static bool opt_ws(pctx *c, const char *ws, size_t n) {
    for (size_t k = 0; k < n; k++) {
        if (c->pos == c->n) {
            return c->final;
        }
        if (c->t[c->pos] == ws[k]) {
            c->pos++;
        }
    }
    return true;
}

/* The call marker that ends a thinking block too, where the parameters say a call may (think_ends_at_call:
 * llama.cpp's Qwen3.5 / Nemotron 3 / StepFun and Ling 3 readers, whose calls all open with <tool_call>; Ling 3's only
 * in a block the prompt opened); NULL: only the closing marker ends it. */
static const char *think_call_marker(const pctx *c) {
    bool xml = c->p->format == LLAMAC_TOOL_FORMAT_QWEN3_CODER ||
               (c->p->format == LLAMAC_TOOL_FORMAT_GLM && c->p->reasoning_open);
    return c->p->think_ends_at_call && xml ? "<tool_call>" : NULL;
}

/* Reasoning from c->pos up to `close` or, where the parameters say so, the call marker (think_call_marker). At
 * `close`: c->pos is at it, returns 1; at the call marker: c->pos is at it (the marker is the text's, read as a call
 * or, without tools, as content), returns 2; neither: returns 0 (final: unclosed thinking is all reasoning; else
 * stop). */
static int think_body(pctx *c, const char *close) {
    const char *ends[2] = { close, think_call_marker(c) };
    return scan_until(c, ends, ends[1] ? 2 : 1, true) + 1;
}

/* A thinking block with a template's markers (llamac_template_parse_params), read as llama.cpp's chat layer reads
 * it: the opening marker's core (without its white space) with the white space around it optional, reasoning up to
 * the closing marker's core (or the call marker, think_body), then that marker's trailing white space, optional.
 * False: stop. */
static bool think_block_marked(pctx *c, const char *open, const char *close) {
    char core[2][128];
    const char *mk[2] = { open, close };
    size_t lead[2], len[2];
    for (int k = 0; k < 2; k++) {
        size_t a = 0, b = strlen(mk[k]);
        while (a < b && is_space(mk[k][a])) {
            a++;
        }
        while (b > a && is_space(mk[k][b - 1])) {
            b--;
        }
        if (b - a == 0 || b - a >= sizeof core[k]) {
            return true; /* no usable marker: no thinking block */
        }
        memcpy(core[k], mk[k] + a, b - a);
        core[k][b - a] = '\0';
        lead[k] = a;
        len[k] = b - a;
    }
    if (!c->p->reasoning_open) {
        size_t at = c->pos;
        if (!opt_ws(c, open, lead[0])) {
            return false;
        }
        int s = starts(c, c->pos, core[0]);
        if (s <= 0) {
            c->pos = at;
            return s == 0;
        }
        c->pos += len[0];
        if (!opt_ws(c, open + lead[0] + len[0], strlen(open) - lead[0] - len[0])) {
            return false;
        }
    }
    if (c->p->reasoning_open && c->p->lead) {
        tc_buf_add(&c->m->reasoning, c->p->lead, strlen(c->p->lead), &c->m->oom);
    }
    int end = think_body(c, core[1]);
    if (end != 1) {
        return end == 2; /* a call ends it; none: final, unclosed thinking is all reasoning */
    }
    c->pos += len[1];
    return opt_ws(c, close + lead[1] + len[1], strlen(close) - lead[1] - len[1]);
}

/* A thinking block at the start (the format's markers `open` and `close`, or those the parameters give) goes to
 * reasoning (reasoning format deepseek). False: stop. */
static bool think_block(pctx *c, const char *open, const char *close) {
    if (c->p->reasoning == LLAMAC_REASONING_NONE) {
        return true;
    }
    if (c->p->think_start || c->p->think_end) {
        return think_block_marked(c, c->p->think_start ? c->p->think_start : open,
                                  c->p->think_end ? c->p->think_end : close);
    }
    if (!c->p->reasoning_open) {
        size_t w = c->pos + tc_json_ws(c->t + c->pos, c->n - c->pos);
        if (w == c->n && !c->final) {
            return false;
        }
        int s = starts(c, w, open);
        if (s < 0) {
            return false;
        }
        if (s == 0) {
            return true;
        }
        c->pos = w + strlen(open);
    }
    int end = think_body(c, close);
    if (end != 1) {
        return end == 2; /* a call ends it; none: final, unclosed thinking is all reasoning */
    }
    c->pos += strlen(close);
    return skip_ws(c);
}

/* A thinking block that a call marker may end too (Kimi K2 and DeepSeek V3.2 models call tools at the end of their
 * thinking without closing it): reasoning from <think> at c->pos (or from the start when the prompt opened it) up to
 * </think> or the first of `calls` (white space after that marker belongs to neither). False: stop. */
static bool think_until_call(pctx *c, const char *const *calls, size_t n_calls) {
    if (c->p->reasoning == LLAMAC_REASONING_NONE || (c->p->think_start && !c->p->think_start[0]) || n_calls > 4) {
        return true;
    }
    if (c->p->reasoning_open) {
        if (c->p->lead) {
            tc_buf_add(&c->m->reasoning, c->p->lead, strlen(c->p->lead), &c->m->oom);
        }
    } else {
        int s = starts(c, c->pos, "<think>");
        if (s <= 0) {
            return s == 0;
        }
        c->pos += strlen("<think>");
    }
    const char *ends[5] = { "</think>" };
    memcpy(ends + 1, calls, n_calls * sizeof *calls);
    int w = scan_until(c, ends, 1 + n_calls, true);
    if (w < 0) {
        return false; /* final: unclosed thinking is all reasoning */
    }
    if (w == 0) {
        c->pos += strlen(ends[0]);
    } else {
        c->pos += tc_json_ws(c->t + c->pos, c->n - c->pos);
    }
    return true;
}

/* Adds a call with the given name and arguments text. */
static tc_call *call_with(pctx *c, const char *name, size_t name_n, const char *args, size_t args_n) {
    tc_call *call = tc_msg_add_call(c->m, name, name_n);
    if (call) {
        tc_buf_add(&call->args, args, args_n, &c->m->oom);
    }
    return call;
}

/* Reads a JSON object of arguments at `at` for a call whose name is known. */
static int args_object(pctx *c, size_t at, const char *name, size_t name_n, size_t *end) {
    if (at >= c->n) {
        return c->final ? R_NOT : R_STOP;
    }
    if (c->t[at] != '{') {
        return R_NOT;
    }
    size_t e, safe;
    char closers[TC_JSON_MAX_DEPTH + 2];
    int r = tc_json_scan(c->t + at, c->n - at, &e, &safe, closers);
    if (r == TC_JSON_COMPLETE) {
        call_with(c, name, name_n, c->t + at, e);
        *end = at + e;
        return R_DONE;
    }
    tc_call *call = call_with(c, name, name_n, c->t + at, safe);
    if (r == TC_JSON_PARTIAL && !c->final) {
        return R_STOP;
    }
    if (call) {
        tc_buf_add(&call->args, closers, strlen(closers), &c->m->oom);
    }
    c->pos = at + safe;
    return R_BROKEN;
}

static bool key_is(const char *key, size_t n, const char *const *names) {
    for (; *names; names++) {
        if (strlen(*names) == n && memcmp(key, *names, n) == 0) {
            return true;
        }
    }
    return false;
}

/* Decodes a complete JSON string token into a name; false when it is not a usable name. */
static bool decode_name(const char *s, size_t n, char *out, size_t *out_n) {
    json_error_t err;
    json_t *j = json_loadb(s, n, JSON_DECODE_ANY, &err);
    bool ok = j && json_is_string(j) && json_string_length(j) > 0 && json_string_length(j) <= NAME_MAX_LEN &&
              !memchr(json_string_value(j), '\0', json_string_length(j));
    if (ok) {
        *out_n = json_string_length(j);
        memcpy(out, json_string_value(j), *out_n);
    }
    json_decref(j);
    return ok;
}

/* Reads a call written as a JSON object holding the name under one of `name_keys` and the arguments (an object)
 * under one of `args_keys`, at `at`. */
static int object_call(pctx *c, size_t at, const char *const *name_keys, const char *const *args_keys, size_t *end) {
    if (at >= c->n) {
        return c->final ? R_NOT : R_STOP;
    }
    if (c->t[at] != '{') {
        return R_NOT;
    }
    char name[NAME_MAX_LEN];
    size_t name_n = 0;
    bool have_name = false;
    size_t args_at = SIZE_MAX, args_end = SIZE_MAX; /* args_end set when the arguments are complete */
    int state = TC_JSON_PARTIAL;                    /* of the object as a whole */
    size_t i = at + 1, e, safe;
    char closers[TC_JSON_MAX_DEPTH + 2];
    for (;;) {
        i += tc_json_ws(c->t + i, c->n - i);
        if (i >= c->n) {
            break;
        }
        if (c->t[i] == '}') {
            state = TC_JSON_COMPLETE;
            *end = i + 1;
            break;
        }
        if (c->t[i] != '"') {
            state = TC_JSON_INVALID;
            break;
        }
        int r = tc_json_scan(c->t + i, c->n - i, &e, &safe, closers);
        if (r != TC_JSON_COMPLETE) {
            state = r;
            break;
        }
        const char *key = c->t + i + 1;
        size_t key_n = e - 2;
        i += e;
        i += tc_json_ws(c->t + i, c->n - i);
        if (i >= c->n) {
            break;
        }
        if (c->t[i] != ':') {
            state = TC_JSON_INVALID;
            break;
        }
        i++;
        i += tc_json_ws(c->t + i, c->n - i);
        if (i >= c->n) {
            break;
        }
        bool is_name = !have_name && key_is(key, key_n, name_keys);
        bool is_args = args_at == SIZE_MAX && key_is(key, key_n, args_keys);
        if (is_args) {
            args_at = i;
        }
        r = tc_json_scan(c->t + i, c->n - i, &e, &safe, closers);
        if (r != TC_JSON_COMPLETE) {
            state = r;
            break;
        }
        if (is_name) {
            have_name = decode_name(c->t + i, e, name, &name_n);
            if (!have_name) {
                state = TC_JSON_INVALID;
                break;
            }
        }
        if (is_args) {
            if (c->t[args_at] != '{') {
                state = TC_JSON_INVALID; /* arguments that are not an object: not a call we can pass on */
                args_at = SIZE_MAX;
                break;
            }
            args_end = i + e;
        }
        i += e;
        i += tc_json_ws(c->t + i, c->n - i);
        if (i >= c->n) {
            break;
        }
        if (c->t[i] == ',') {
            i++;
        } else if (c->t[i] != '}') {
            state = TC_JSON_INVALID;
            break;
        }
    }
    if (state == TC_JSON_COMPLETE) {
        if (!have_name) {
            return R_NOT;
        }
        if (args_end == SIZE_MAX) {
            call_with(c, name, name_n, "{}", 2);
        } else {
            call_with(c, name, name_n, c->t + args_at, args_end - args_at);
        }
        return R_DONE;
    }
    /* Unfinished or broken: a call exists once its name is known and its arguments have opened. */
    bool committed = have_name && args_at != SIZE_MAX && args_at < c->n && c->t[args_at] == '{';
    if (!committed) {
        return state == TC_JSON_PARTIAL && !c->final ? R_STOP : R_NOT;
    }
    if (args_end != SIZE_MAX) {
        call_with(c, name, name_n, c->t + args_at, args_end - args_at);
        if (state == TC_JSON_PARTIAL && !c->final) {
            return R_STOP;
        }
        c->pos = args_end;
        return R_BROKEN;
    }
    size_t ae, asafe;
    tc_json_scan(c->t + args_at, c->n - args_at, &ae, &asafe, closers);
    tc_call *call = call_with(c, name, name_n, c->t + args_at, asafe);
    if (state == TC_JSON_PARTIAL && !c->final) {
        return R_STOP;
    }
    if (call) {
        tc_buf_add(&call->args, closers, strlen(closers), &c->m->oom);
    }
    c->pos = args_at + asafe;
    return R_BROKEN;
}

/* ---- lists of calls: [call, call, ...] (JSON's, LFM2's Python calls, Apertus' keyed objects) ---- */

/* Reads one call of a list at `at`, as the other call readers do: R_DONE with *end after it, else their outcomes. */
typedef int (*list_item)(pctx *c, size_t at, const void *arg, size_t *end);

/* How a family's list is read (flags; 0 is a JSON list). */
enum {
    LIST_STRICT = 1,   /* a call wherever one may be (JSON's lists also end at a `]` there: `[]`, a trailing comma);
                        * text that goes wrong after a call is content from the end of the call, not from the next
                        * character that is not white space */
    LIST_CUT_CLOSE = 2 /* a final text that ends after a call (white space aside) closes the list: cut before `]` */
};

/* Reads a list of calls at `at` (its `[` there), each read by `item` with `arg`, separated by commas: R_DONE with
 * *end after the `]`; R_NOT when no call was read; R_BROKEN after some calls, c->pos where content resumes; R_STOP
 * when the text ends before the list is decided (only when not final). */
static int call_list(pctx *c, size_t at, list_item item, const void *arg, unsigned how, size_t *end) {
    if (at >= c->n) {
        return c->final ? R_NOT : R_STOP;
    }
    if (c->t[at] != '[') {
        return R_NOT;
    }
    size_t i = at + 1;
    for (bool first = true;; first = false) {
        i = ws_at(c, i);
        if (i == c->n && !c->final) {
            return R_STOP;
        }
        if (!(how & LIST_STRICT) && i < c->n && c->t[i] == ']') {
            *end = i + 1;
            return R_DONE;
        }
        size_t call_end;
        int r = item(c, i, arg, &call_end);
        if (r == R_NOT && !first) {
            c->pos = i;
            return R_BROKEN;
        }
        if (r != R_DONE) {
            return r;
        }
        i = ws_at(c, call_end);
        if (i == c->n && !c->final) {
            return R_STOP;
        }
        if (i < c->n && c->t[i] == ',') {
            i++;
            continue;
        }
        if ((i < c->n && c->t[i] == ']') || (i == c->n && (how & LIST_CUT_CLOSE))) {
            *end = i < c->n ? i + 1 : i;
            return R_DONE;
        }
        c->pos = how & LIST_STRICT ? call_end : i;
        return R_BROKEN;
    }
}

/* The names under which a JSON call object holds its tool's name and its arguments. */
typedef struct json_keys {
    const char *const *name;
    const char *const *args;
} json_keys;

static int json_item(pctx *c, size_t at, const void *keys, size_t *end) {
    const json_keys *k = keys;
    return object_call(c, at, k->name, k->args, end);
}

/* Reads a JSON array of object calls at `at`. */
static int array_calls(pctx *c, size_t at, const char *const *name_keys, const char *const *args_keys, size_t *end) {
    json_keys keys = { name_keys, args_keys };
    return call_list(c, at, json_item, &keys, 0, end);
}

/* Ends a format parser after a call reader's outcome `r` for a call whose marker began at `start`: true when the
 * caller goes on, false when parsing is over (stopped, or the rest went to content). */
static bool after_call(pctx *c, int r, size_t start) {
    switch (r) {
    case R_DONE: return true;
    case R_STOP: return false;
    case R_NOT: rest_content(c, start); return false;
    default: rest_content(c, c->pos); return false;
    }
}

/* Consumes `s` at c->pos when it is there (after whitespace). 1 found, 0 not there, -1 stop. */
static int expect(pctx *c, const char *s) {
    size_t w = c->pos + tc_json_ws(c->t + c->pos, c->n - c->pos);
    if (w == c->n && !c->final) {
        return -1;
    }
    int r = starts(c, w, s);
    if (r > 0) {
        c->pos = w + strlen(s);
    }
    return r;
}

/* expect() for a closing marker: at the end of a final text, only white space where it would be counts as found (a
 * reply cut before its last marker, as llama.cpp reads it). */
static int expect_close(pctx *c, const char *s) {
    int r = expect(c, s);
    if (r == 0 && c->final && c->pos + tc_json_ws(c->t + c->pos, c->n - c->pos) == c->n) {
        c->pos = c->n;
        return 1;
    }
    return r;
}

static const char *const NAME_KEYS[] = { "name", NULL };
static const char *const ARGS_KEYS[] = { "arguments", "parameters", NULL };

/* ---- Hermes / Qwen 2.5: <tool_call>{"name":..,"arguments":..}</tool_call> ---- */

static void parse_hermes(pctx *c) {
    static const char *const markers[] = { "<tool_call>" };
    if (!think_block(c, "<think>", "</think>")) {
        return;
    }
    for (;;) {
        if (scan_until(c, markers, 1, false) < 0) {
            return;
        }
        size_t start = c->pos, end;
        c->pos += strlen(markers[0]);
        c->pos += tc_json_ws(c->t + c->pos, c->n - c->pos);
        if (!after_call(c, object_call(c, c->pos, NAME_KEYS, ARGS_KEYS, &end), start)) {
            return;
        }
        c->pos = end;
        int r = expect_close(c, "</tool_call>");
        if (r < 0 || (r > 0 && !skip_ws(c))) {
            return;
        }
    }
}

/* ---- XML-ish arguments: one reader for the key/value families ---- */

/* How a family writes one argument: key_open KEY key_close value_open VALUE value_close, the list ending at `close`.
 * Qwen3-Coder: <parameter=KEY>\nVALUE\n</parameter> ... </function>; GLM: <arg_key>KEY</arg_key><arg_value>VALUE
 * </arg_value> ... </tool_call>. */
typedef struct xml_syntax {
    const char *key_open, *key_close, *value_open, *value_close, *close;
    bool trim_newlines; /* one leading and one trailing newline are not part of the value */
    bool typed;         /* the attribute, not the offered tools' schema, types the value (DSML) */
    bool cdata;         /* a value written <![CDATA[..]]> right before value_close is the string inside (MiniCPM5) */
    /* when set, the key is followed by one of these (NULL-terminated): attrs[0] makes the value a string, the others
     * leave it to xml_param (DSML: ` string="true">` or ` string="false">`; Kimi K3: ` type="string"<|sep|>`, ...,
     * where the schema, when the tools are given, types the others as llama.cpp's reader does) */
    const char *const *attrs;
    const char *name_end; /* what ends a call's name after xml_invoke's opening (NULL: `">`, an attribute's end) */
} xml_syntax;

static const xml_syntax QWEN3_XML = { "<parameter=", ">",   "",    "</parameter>", "</function>",
                                      true,          false, false, NULL,           NULL };
static const xml_syntax GLM_XML = { "<arg_key>", "</arg_key>", "<arg_value>", "</arg_value>", "</tool_call>",
                                    false,       false,        false,         NULL,           NULL };
static const xml_syntax MINIMAX_XML = {
    "<parameter name=\"", "\">", "", "</parameter>", "</invoke>", false, false, false, NULL, NULL
};
static const xml_syntax MINICPM5_XML = {
    "<param name=\"", "\">", "", "</param>", "</function>", false, false, true, NULL, NULL
};
static const char *const DSML_ATTRS[] = { " string=\"true\">", " string=\"false\">", NULL };
static const xml_syntax DSML_XML = { DSML "parameter name=\"",
                                     "\"",
                                     "",
                                     DSML_CLOSE "parameter>",
                                     DSML_CLOSE "invoke>",
                                     false,
                                     true,
                                     false,
                                     DSML_ATTRS,
                                     NULL };
/* Kimi K3: <|open|>argument key="k" type="string"<|sep|>v<|close|>argument<|sep|> ... <|close|>call<|sep|>; the type
 * the model writes stands in for the tool's schema that llama.cpp reads the value by */
#define K3_SEP "<|sep|>"
static const char *const K3_ATTRS[] = { " type=\"string\"" K3_SEP,
                                        K3_SEP,
                                        " type=\"number\"" K3_SEP,
                                        " type=\"integer\"" K3_SEP,
                                        " type=\"boolean\"" K3_SEP,
                                        " type=\"null\"" K3_SEP,
                                        " type=\"object\"" K3_SEP,
                                        " type=\"array\"" K3_SEP,
                                        NULL };
static const xml_syntax K3_XML = { "<|open|>argument key=\"",
                                   "\"",
                                   "",
                                   "<|close|>argument" K3_SEP,
                                   "<|close|>call" K3_SEP,
                                   false,
                                   false,
                                   false,
                                   K3_ATTRS,
                                   NULL };

/* The parameters schema of `call`'s tool among the offered tools (borrowed from c->tools): NULL when no tools were
 * given, or the tool is not among them. */
static json_t *tool_parameters(pctx *c, const tc_call *call) {
    if (!c->p->tools) {
        return NULL;
    }
    if (!c->tools_read) {
        c->tools_read = true;
        c->tools = json_loads(c->p->tools, 0, NULL);
    }
    size_t i;
    json_t *tool;
    json_array_foreach(c->tools, i, tool) {
        json_t *fn = json_object_get(tool, "function");
        const char *name = json_string_value(json_object_get(fn, "name"));
        if (name && strlen(name) == call->name.len && !memcmp(name, llamac__dynbuf_ptr(&call->name), call->name.len)) {
            return json_object_get(fn, "parameters");
        }
    }
    return NULL;
}

/* The schema of property (key, key_n) of the object schema `obj` (borrowed; NULL when there is none). */
static json_t *property(json_t *obj, const char *key, size_t key_n) {
    char k[NAME_MAX_LEN];
    if (!obj || key_n >= NAME_MAX_LEN) {
        return NULL;
    }
    memcpy(k, key, key_n);
    k[key_n] = '\0';
    return json_object_get(json_object_get(obj, "properties"), k);
}

/* The JSON types (TC_T_*) the offered tools' schema gives parameter (key, key_n) of `call`: 0 when no tools were
 * given, or the tool or its property is not among them. */
static unsigned param_types(pctx *c, const tc_call *call, const char *key, size_t key_n) {
    json_t *params = tool_parameters(c, call);
    json_t *schema = property(params, key, key_n);
    return schema ? tc_schema_types(params, schema) : 0;
}

/* The TC_T_* bit of a JSON value's type, numbers of either kind alike. */
static unsigned json_type_bits(const json_t *j) {
    return json_is_string(j)    ? TC_T_STRING
           : json_is_number(j)  ? TC_T_INTEGER | TC_T_NUMBER
           : json_is_boolean(j) ? TC_T_BOOLEAN
           : json_is_null(j)    ? TC_T_NULL
           : json_is_object(j)  ? TC_T_OBJECT
                                : TC_T_ARRAY;
}

/* Appends one argument to the arguments being built. With DSML's string="true" the value is a string. Where the
 * offered tools' schema names the parameter it types the value as llama.cpp's chat layer does: a string when the
 * parameter may be one (Qwen3-Coder: when it can only be one; one that may be a string or another type is JSON when
 * it reads as a value of another of its types, else a string), else JSON (a JSON string too) when it reads as JSON.
 * Without a schema the value is JSON when it reads as a JSON number, boolean, null, object or array, else a
 * string. */
static void typed_value(pctx *c, llamac__dynbuf *out, unsigned types, bool string, const char *v, size_t v_n);

static void xml_param(pctx *c, tc_call *call, const xml_syntax *sx, const char *key, size_t key_n, const char *v,
                      size_t v_n, bool string) {
    if (sx->trim_newlines && v_n && v[0] == '\n') {
        v++, v_n--;
    }
    if (sx->trim_newlines && v_n && v[v_n - 1] == '\n') {
        v_n--;
    }
    unsigned types = string || sx->typed ? 0 : param_types(c, call, key, key_n);
    if (call->args.len > 1) {
        tc_buf_add(&call->args, ", ", 2, &c->m->oom);
    }
    tc_json_quote(&call->args, key, key_n, &c->m->oom);
    tc_buf_add(&call->args, ": ", 2, &c->m->oom);
    typed_value(c, &call->args, types, string, v, v_n);
}

/* Appends the value (v, v_n) to `out` as xml_param types it: `types` are the TC_T_* its schema gives (0: none), and
 * `string` makes it a string. */
static void typed_value(pctx *c, llamac__dynbuf *out, unsigned types, bool string, const char *v, size_t v_n) {
    bool qwen = c->p->format == LLAMAC_TOOL_FORMAT_QWEN3_CODER;
    /* the types a JSON reading may have (0: none, the value is a string) */
    unsigned as_json = TC_T_ANY - 1 - TC_T_STRING;
    if (string || (types && (qwen ? types == TC_T_STRING : (types & TC_T_STRING)))) {
        as_json = 0;
    } else if (qwen && (types & TC_T_ANY)) {
        as_json = TC_T_ANY - 1 - TC_T_STRING;
    } else if (qwen && (types & TC_T_STRING)) {
        as_json = types & ~(unsigned)TC_T_STRING;
    } else if (types) {
        as_json = TC_T_ANY - 1; /* a parameter that is no string: its JSON as written */
    }
    json_error_t err;
    json_t *j = as_json ? json_loadb(v, v_n, JSON_DECODE_ANY, &err) : NULL;
    char *vs = j && (json_type_bits(j) & as_json) ? json_dumps(j, JSON_ENCODE_ANY | JSON_COMPACT) : NULL;
    json_decref(j);
    if (vs) {
        tc_buf_add(out, vs, strlen(vs), &c->m->oom);
    } else {
        tc_json_quote(out, v, v_n, &c->m->oom);
    }
    free(vs);
}

/* A value at *vstart written <![CDATA[..]]> and closed by sx->value_close right after, as llama.cpp's MiniCPM5 reader
 * takes it: the string inside, which may hold the closing tag. 1: it is one (*vstart, *vend: the string inside;
 * *vskip: the "]]>" before the close; or, when a final text ends inside it or before its close, *vend SIZE_MAX and
 * *vcut the end of the string); 0: read the value as written (no CDATA, or text between its end and the close); -1:
 * stop, wait for more text. */
static int cdata_value(const pctx *c, const xml_syntax *sx, size_t *vstart, size_t *vend, size_t *vskip, size_t *vcut) {
    static const char open[] = "<![CDATA[", close[] = "]]>";
    int r = starts(c, *vstart, open);
    if (r <= 0) {
        return r;
    }
    size_t inner = *vstart + strlen(open), e = find(c, inner, close), after = e + strlen(close);
    r = e == SIZE_MAX ? (c->final ? 1 : -1) : starts(c, after, sx->value_close);
    if (r > 0) {
        *vstart = inner;
        *vend = e;
        *vskip = strlen(close);
    } else if (r == 0 && c->final && c->n - after < strlen(sx->value_close) &&
               memcmp(c->t + after, sx->value_close, c->n - after) == 0) {
        *vstart = inner; /* the reply ends after "]]>", in its close */
        *vcut = e;
        r = 1;
    }
    return r;
}

/* Reads the arguments of `call` (opened as "{") at c->pos up to and including sx->close. */
static int xml_args(pctx *c, tc_call *call, const xml_syntax *sx) {
    for (;;) {
        size_t resume = c->pos;
        int r = expect(c, sx->key_open);
        if (r < 0) {
            return R_STOP;
        }
        if (r == 0) {
            r = expect_close(c, sx->close);
            if (r < 0) {
                return R_STOP;
            }
            tc_buf_add(&call->args, "}", 1, &c->m->oom);
            if (r == 0) {
                c->pos = resume;
                return R_BROKEN;
            }
            return R_DONE;
        }
        size_t kend = find(c, c->pos, sx->key_close), vstart = SIZE_MAX, vend = SIZE_MAX, vskip = 0, vcut = c->n;
        bool string = false;
        if (kend != SIZE_MAX && kend > c->pos && kend - c->pos <= NAME_MAX_LEN) {
            size_t key = c->pos;
            c->pos = kend + strlen(sx->key_close);
            r = 1;
            if (sx->attrs) {
                r = 0;
                for (size_t k = 0; sx->attrs[k] && r <= 0; k++) {
                    int a = starts(c, c->pos, sx->attrs[k]);
                    if (a > 0) {
                        string = k == 0;
                        c->pos += strlen(sx->attrs[k]);
                    }
                    r = a > 0 ? 1 : (r < 0 || a < 0 ? -1 : 0);
                }
            }
            if (r > 0 && sx->value_open[0]) {
                r = expect(c, sx->value_open);
            }
            if (r > 0) {
                vstart = c->pos;
                r = sx->cdata ? cdata_value(c, sx, &vstart, &vend, &vskip, &vcut) : 0;
                string = string || r > 0;
                if (r == 0) {
                    vend = find(c, vstart, sx->value_close);
                }
                r = r < 0 ? -1 : 1;
            }
            c->pos = key;
            if (r < 0) {
                return R_STOP;
            }
        }
        if (vend == SIZE_MAX && vstart != SIZE_MAX && c->final) {
            /* the reply ends inside the value (max_tokens): the value is what was written, as llama.cpp reads it */
            xml_param(c, call, sx, c->t + c->pos, kend - c->pos, c->t + vstart, vcut - vstart, string);
            tc_buf_add(&call->args, "}", 1, &c->m->oom);
            c->pos = c->n;
            return R_DONE;
        }
        if (vend == SIZE_MAX) {
            /* not (yet) a whole argument: wait while it can still become one */
            bool key_pending = kend == SIZE_MAX ? c->n - c->pos <= NAME_MAX_LEN : kend > c->pos;
            if (!c->final && key_pending && (kend == SIZE_MAX || kend - c->pos <= NAME_MAX_LEN)) {
                return R_STOP;
            }
            tc_buf_add(&call->args, "}", 1, &c->m->oom);
            c->pos = resume;
            return R_BROKEN;
        }
        xml_param(c, call, sx, c->t + c->pos, kend - c->pos, c->t + vstart, vend - vstart, string);
        c->pos = vend + vskip + strlen(sx->value_close);
    }
}

/* ---- Qwen3-Coder: <tool_call><function=f><parameter=p>v</parameter></function></tool_call> ---- */

/* Reads `<function=name>` params `</function>` at c->pos. */
static int xml_function(pctx *c) {
    int r = expect(c, "<function=");
    if (r <= 0) {
        return r < 0 ? R_STOP : R_NOT;
    }
    size_t gt = find(c, c->pos, ">");
    if (gt == SIZE_MAX) {
        return c->final || c->n - c->pos > NAME_MAX_LEN ? R_NOT : R_STOP;
    }
    if (gt == c->pos || gt - c->pos > NAME_MAX_LEN || memchr(c->t + c->pos, '\n', gt - c->pos)) {
        return R_NOT;
    }
    tc_call *call = call_with(c, c->t + c->pos, gt - c->pos, "{", 1);
    if (!call) {
        return R_STOP;
    }
    c->pos = gt + 1;
    return xml_args(c, call, &QWEN3_XML);
}

/* Qwen3-Coder (<tool_call>) and Seed-OSS (<seed:tool_call>, its thinking in <seed:think>). */
static void parse_qwen3_coder(pctx *c, const char *open, const char *close) {
    const char *const markers[] = { open };
    if (!think_block(c, "<think>", "</think>")) {
        return;
    }
    for (;;) {
        if (scan_until(c, markers, 1, false) < 0) {
            return;
        }
        size_t start = c->pos;
        c->pos += strlen(markers[0]);
        if (!after_call(c, xml_function(c), start)) {
            return;
        }
        int r = expect_close(c, close);
        if (r < 0 || (r > 0 && !skip_ws(c))) {
            return;
        }
    }
}

/* ---- GLM 4.5-4.7, Ling 3, Laguna, Spark: <tool_call>name\n<arg_key>k</arg_key>\n<arg_value>v</arg_value>\n
 * </tool_call> (4.7 and the others without the newlines) ---- */

/* Reads `name` args `</tool_call>` after the <tool_call> marker: the name ends at a newline or the next tag. */
static int glm_call(pctx *c) {
    size_t i = c->pos;
    while (i < c->n && i - c->pos <= NAME_MAX_LEN && name_char(c->t[i])) {
        i++;
    }
    if (i == c->n) {
        return c->final || i - c->pos > NAME_MAX_LEN ? R_NOT : R_STOP;
    }
    if (i == c->pos || i - c->pos > NAME_MAX_LEN || (c->t[i] != '\n' && c->t[i] != '<')) {
        return R_NOT;
    }
    tc_call *call = call_with(c, c->t + c->pos, i - c->pos, "{", 1);
    if (!call) {
        return R_STOP;
    }
    c->pos = i;
    return xml_args(c, call, &GLM_XML);
}

static void parse_glm(pctx *c) {
    static const char *const markers[] = { "<tool_call>" };
    if (!think_block(c, "<think>", "</think>")) {
        return;
    }
    for (;;) {
        if (scan_until(c, markers, 1, false) < 0) {
            return;
        }
        size_t start = c->pos;
        c->pos += strlen(markers[0]);
        if (!after_call(c, glm_call(c), start)) {
            return;
        }
        if (!skip_ws(c)) {
            return;
        }
    }
}

/* The closing marker of a section of calls at c->pos: true when the parser goes on after it; false when it stopped
 * or the rest went to content (no marker). */
static bool section_end(pctx *c, const char *end) {
    int r = expect_close(c, end);
    if (r == 0) {
        rest_content(c, c->pos);
    }
    return r > 0 && skip_ws(c);
}

/* Sections `open` [call, ...] `close` (Apriel, Nemotron Nano v2, LFM2, Apertus), their lists read by call_list. */
static void list_sections(pctx *c, const char *open, const char *close, list_item item, const void *arg, unsigned how) {
    for (;;) {
        if (scan_until(c, &open, 1, false) < 0) {
            return;
        }
        size_t start = c->pos, end;
        c->pos += strlen(open);
        if (!skip_ws(c) || !after_call(c, call_list(c, c->pos, item, arg, how, &end), start)) {
            return;
        }
        c->pos = end;
        if (!section_end(c, close)) {
            return;
        }
    }
}

/* ---- <invoke name="f"> families: MiniMax M2, DeepSeek V3.2 / V4 (DSML) ---- */

/* Reads the arguments of a call whose name was read (xml_args, or a family's own reader). */
typedef int (*args_reader)(pctx *c, tc_call *call, const xml_syntax *sx);

/* Reads `open`f">` and the arguments, by `read` with `sx`, at c->pos (open: `<invoke name="` or DSML's; Hy3's name
 * ends at sx->name_end). */
static int invoke_with(pctx *c, const char *open, const xml_syntax *sx, args_reader read) {
    int r = expect(c, open);
    if (r <= 0) {
        return r < 0 ? R_STOP : R_NOT;
    }
    size_t q;
    const char *name_end = sx && sx->name_end ? sx->name_end : "\">";
    r = name_before(c, name_end, &q);
    if (r <= 0) {
        return r < 0 ? R_STOP : R_NOT;
    }
    tc_call *call = call_with(c, c->t + c->pos, q - c->pos, "{", 1);
    if (!call) {
        return R_STOP;
    }
    c->pos = q + strlen(name_end);
    return read(c, call, sx);
}

static int xml_invoke(pctx *c, const char *open, const xml_syntax *sx) {
    return invoke_with(c, open, sx, xml_args);
}

/* Sections opened by markers[k] and closed by ends[k], each holding one or more invokes, their arguments read by
 * `read` with `sx`. */
static void sections_with(pctx *c, const char *const *markers, const char *const *ends, size_t nm, const char *open,
                          const xml_syntax *sx, args_reader read) {
    for (;;) {
        int which = scan_until(c, markers, nm, false);
        if (which < 0) {
            return;
        }
        size_t start = c->pos;
        c->pos += strlen(markers[which]);
        for (bool first = true;; first = false) {
            size_t call_start = c->pos;
            int r = invoke_with(c, open, sx, read);
            if (r == R_NOT && !first) {
                c->pos = call_start;
                break;
            }
            if (!after_call(c, r, first ? start : call_start)) {
                return;
            }
        }
        if (!section_end(c, ends[which])) {
            return;
        }
    }
}

static void invoke_sections(pctx *c, const char *const *markers, const char *const *ends, size_t nm, const char *open,
                            const xml_syntax *sx) {
    sections_with(c, markers, ends, nm, open, sx, xml_args);
}

/* MiniMax M2: <minimax:tool_call>\n<invoke name="f">\n<parameter name="k">v</parameter>\n</invoke>\n
 * </minimax:tool_call> */
static void parse_minimax(pctx *c) {
    static const char *const markers[] = { "<minimax:tool_call>" }, *const ends[] = { "</minimax:tool_call>" };
    if (think_block(c, "<think>", "</think>")) {
        invoke_sections(c, markers, ends, 1, "<invoke name=\"", &MINIMAX_XML);
    }
}

/* MiniCPM5: <think>..</think>, text, then <function name="f">\n<param name="k">v</param>\n</function> one after
 * another. As llama.cpp's MiniCPM5 reader: the white space after <think> and after </think> is no part of the reasoning
 * or the text, also when the prompt opened the block (or, thinking off, closed it); a value <![CDATA[..]]> is the
 * string inside (cdata_value). */
static void parse_minicpm5(pctx *c) {
    static const char *const calls[] = { "<function name=\"" }, *const think_end[] = { "</think>" };
    const char *lead = c->p->lead ? c->p->lead : "";
    size_t lw = 0;
    while (lead[lw] && is_space(lead[lw])) {
        lw++;
    }
    bool thinking = c->p->reasoning != LLAMAC_REASONING_NONE, open = thinking && c->p->reasoning_open;
    if (thinking && !open) {
        int s = starts(c, c->pos, "<think>");
        if (s < 0) {
            return;
        }
        open = s > 0;
        c->pos += s > 0 ? strlen("<think>") : 0;
        lead = "";
        lw = 0;
    }
    if (open || (!c->p->reasoning_open && c->p->lead)) {
        /* the prompt's own text after the marker, past its white space, begins the reasoning (or the content) */
        tc_buf_add(open ? &c->m->reasoning : &c->m->content, lead + lw, strlen(lead + lw), &c->m->oom);
        if (!lead[lw] && !skip_ws(c)) {
            return;
        }
    } else if (c->p->lead) {
        tc_buf_add(&c->m->content, lead, strlen(lead), &c->m->oom);
    }
    if (open) {
        if (scan_until(c, think_end, 1, true) < 0) {
            return; /* final: unclosed thinking is all reasoning */
        }
        c->pos += strlen(think_end[0]);
        if (!skip_ws(c)) {
            return;
        }
    }
    if (!c->p->parse_tool_calls || scan_until(c, calls, 1, false) < 0) {
        if (!c->p->parse_tool_calls) {
            rest_content(c, c->pos);
        }
        return;
    }
    for (bool first = true;; first = false) {
        size_t call_start = c->pos;
        int r = xml_invoke(c, calls[0], &MINICPM5_XML);
        if (r == R_NOT && !first) {
            c->pos = call_start;
            break;
        }
        if (!after_call(c, r, call_start)) {
            return;
        }
    }
    if (skip_ws(c)) {
        rest_content(c, c->pos);
    }
}

/* DeepSeek V3.2 / V4: <｜DSML｜function_calls> (V4: tool_calls) <｜DSML｜invoke name="f"> <｜DSML｜parameter name="k"
 * string="true">v</｜DSML｜parameter> </｜DSML｜invoke> </｜DSML｜function_calls>; a call may end the thinking. */
static void parse_dsml(pctx *c) {
    /* the blank line before a block belongs to neither the text nor the thinking before it, and llama.cpp's reader
     * drops the white space the reply ends with */
    c->trim_end = true;
    static const char *const markers[] = { "\n\n" DSML "function_calls>", "\n\n" DSML "tool_calls>",
                                           DSML "function_calls>", DSML "tool_calls>" };
    static const char *const ends[] = { DSML_CLOSE "function_calls>", DSML_CLOSE "tool_calls>",
                                        DSML_CLOSE "function_calls>", DSML_CLOSE "tool_calls>" };
    if (think_until_call(c, markers, 4)) {
        invoke_sections(c, markers, ends, 4, DSML "invoke name=\"", &DSML_XML);
    }
}

/* ---- MiniMax M3: every tag behind the namespace token ]<]minimax[>[ (NS): <mm:think>..</mm:think> or a bare
 * </mm:think>, text, then NS<tool_call>\n NS<invoke name="f">NS<k>v NS</k>..NS</invoke>\n .. NS</tool_call>; a value
 * that is an object or a list is written as elements in turn (NS<key>v NS</key>.., NS<item>v NS</item>..) ---- */

#define M3_THINK "<mm:think>"
#define M3_THINK_END "</mm:think>"

/* The thinking block at the start, as llama.cpp's MiniMax M3 reader takes it: <mm:think>, white space, reasoning up
 * to </mm:think> (the white space after it is the text's), or a bare </mm:think> (a turn without thinking: the
 * template writes one there). False: stop. */
static bool m3_think(pctx *c) {
    static const char *const end[] = { M3_THINK_END };
    if (c->p->reasoning == LLAMAC_REASONING_NONE || (c->p->think_start && !c->p->think_start[0])) {
        return true;
    }
    if (c->p->reasoning_open) {
        if (c->p->lead) {
            tc_buf_add(&c->m->reasoning, c->p->lead, strlen(c->p->lead), &c->m->oom);
        } else if (!skip_ws(c)) {
            return false;
        }
    } else {
        int s = starts(c, c->pos, M3_THINK_END);
        if (s != 0) {
            c->pos += s > 0 ? strlen(M3_THINK_END) : 0;
            return s > 0;
        }
        s = starts(c, c->pos, M3_THINK);
        if (s <= 0) {
            return s == 0;
        }
        c->pos += strlen(M3_THINK);
        if (!skip_ws(c)) {
            return false;
        }
    }
    if (scan_until(c, end, 1, true) < 0) {
        return false; /* final: unclosed thinking is all reasoning */
    }
    c->pos += strlen(M3_THINK_END);
    return true;
}

static int m3_value(pctx *c, json_t *root, json_t *schema, const char *tag, size_t tag_n, int depth,
                    llamac__dynbuf *out);

/* Reads an element NS<key>value NS</key> at c->pos (white space before it skipped) and writes "key": value to `out`;
 * the value is typed by the schema of property `key` of the object schema `obj` (NULL: none). R_DONE, R_STOP, or
 * R_NOT (no element there). */
static int m3_member(pctx *c, json_t *root, json_t *obj, int depth, llamac__dynbuf *out) {
    int r = expect(c, M3_NS "<");
    size_t gt;
    if (r > 0) {
        r = name_before(c, ">", &gt);
    }
    if (r <= 0) {
        return r < 0 ? R_STOP : R_NOT;
    }
    const char *key = c->t + c->pos;
    size_t key_n = gt - c->pos;
    c->pos = gt + 1;
    tc_json_quote(out, key, key_n, &c->m->oom);
    tc_buf_add(out, ": ", 2, &c->m->oom);
    return m3_value(c, root, property(obj, key, key_n), key, key_n, depth, out);
}

/* Reads the value of element `tag` (its opening read) and its closing NS</tag>, writing its JSON to `out`. As
 * llama.cpp's reader takes it: a value whose schema may be a string is the text as written; else elements in turn
 * are an object (NS<item> ones a list), and other text is JSON where it reads as JSON, else a string. Without a schema
 * the elements decide. A final text that ends inside the value closes what was written. R_DONE, R_STOP, or R_NOT
 * (the value goes wrong). */
static int m3_value(pctx *c, json_t *root, json_t *schema, const char *tag, size_t tag_n, int depth,
                    llamac__dynbuf *out) {
    char close[sizeof M3_NS + NAME_MAX_LEN + 4];
    snprintf(close, sizeof close, M3_NS "</%.*s>", (int)tag_n, tag);
    unsigned types = schema ? tc_schema_types(root, schema) : 0;
    bool nested = !(types & TC_T_STRING) && (!types || (types & (TC_T_OBJECT | TC_T_ARRAY | TC_T_ANY)));
    size_t w = ws_at(c, c->pos);
    int el = 0;
    if (nested && depth < TC_JSON_MAX_DEPTH) {
        if (w == c->n && !c->final) {
            return R_STOP;
        }
        /* an element opens there (not this one's close): 1 a member, 2 an item */
        int child = starts(c, w, M3_NS "<"), closing = child > 0 ? starts(c, w, M3_NS "</") : 1;
        int item = child > 0 && closing == 0 ? starts(c, w, M3_NS "<item>") : 0;
        if (child < 0 || closing < 0 || item < 0) {
            return R_STOP;
        }
        el = child > 0 && closing == 0 ? 1 + item : 0;
    }
    if (!el) {
        size_t e = find(c, c->pos, close);
        if (e == SIZE_MAX && !c->final) {
            return R_STOP;
        }
        size_t end = e == SIZE_MAX ? c->n : e;
        if (nested && w >= end && (types & (TC_T_ARRAY | TC_T_OBJECT))) {
            /* no elements: an empty list or object of its schema */
            tc_buf_add(out, types & TC_T_ARRAY ? "[]" : "{}", 2, &c->m->oom);
        } else {
            typed_value(c, out, types, false, c->t + c->pos, end - c->pos);
        }
        c->pos = e == SIZE_MAX ? c->n : e + strlen(close);
        return R_DONE;
    }
    json_t *items = el == 2 ? json_object_get(schema, "items") : NULL;
    tc_buf_add(out, el == 2 ? "[" : "{", 1, &c->m->oom);
    for (bool first = true;; first = false) {
        int r = expect_close(c, close);
        if (r != 0) {
            tc_buf_add(out, el == 2 ? "]" : "}", 1, &c->m->oom);
            return r < 0 ? R_STOP : R_DONE;
        }
        if (!first) {
            tc_buf_add(out, ", ", 2, &c->m->oom);
        }
        if (el == 2) {
            r = expect(c, M3_NS "<item>");
            r = r <= 0 ? (r < 0 ? R_STOP : R_NOT) : m3_value(c, root, items, "item", 4, depth + 1, out);
        } else {
            r = m3_member(c, root, schema, depth + 1, out);
        }
        if (r != R_DONE) {
            return r;
        }
    }
}

/* Reads the arguments of `call` (opened as "{") at c->pos, up to and including NS</invoke>: one element per
 * parameter, each added once it is read whole. */
static int m3_args(pctx *c, tc_call *call, const xml_syntax *unused) {
    (void)unused;
    json_t *params = tool_parameters(c, call);
    for (;;) {
        size_t resume = c->pos;
        int r = expect_close(c, M3_NS "</invoke>");
        if (r < 0) {
            return R_STOP;
        }
        if (r > 0) {
            tc_buf_add(&call->args, "}", 1, &c->m->oom);
            return R_DONE;
        }
        llamac__dynbuf v;
        llamac__dynbuf_init(&v, TC_BUF_MAX);
        r = m3_member(c, params, params, 0, &v);
        if (r == R_DONE) {
            if (call->args.len > 1) {
                tc_buf_add(&call->args, ", ", 2, &c->m->oom);
            }
            tc_buf_add(&call->args, v.p, v.len, &c->m->oom);
        }
        llamac__dynbuf_free(&v);
        if (r == R_STOP) {
            return R_STOP;
        }
        if (r != R_DONE) {
            tc_buf_add(&call->args, "}", 1, &c->m->oom);
            c->pos = resume;
            return R_BROKEN;
        }
    }
}

static void parse_minimax_m3(pctx *c) {
    static const char *const markers[] = { M3_NS "<tool_call>" }, *const ends[] = { M3_NS "</tool_call>" };
    if (m3_think(c)) {
        sections_with(c, markers, ends, 1, M3_NS "<invoke name=\"", NULL, m3_args);
    }
}

/* ---- Hy3: <tool_calls:opensource>\n<tool_call:opensource>f<tool_sep:opensource>\n<arg_key:opensource>k
 * </arg_key:opensource>\n<arg_value:opensource>v</arg_value:opensource>\n</tool_call:opensource>\n
 * </tool_calls:opensource>: GLM's arguments in tags of its own, the calls in one section ---- */

static const xml_syntax HY3_XML = { "<arg_key:opensource>",
                                    "</arg_key:opensource>",
                                    "<arg_value:opensource>",
                                    "</arg_value:opensource>",
                                    "</tool_call:opensource>",
                                    false,
                                    false,
                                    false,
                                    NULL,
                                    "<tool_sep:opensource>" };

static void parse_hy3(pctx *c) {
    static const char *const markers[] = { "<tool_calls:opensource>" }, *const ends[] = { "</tool_calls:opensource>" };
    if (think_block(c, "<think:opensource>", "</think:opensource>")) {
        invoke_sections(c, markers, ends, 1, "<tool_call:opensource>", &HY3_XML);
    }
}

/* ---- Solar Open: after the prompt's "<|begin|>assistant", messages <|think|>..<|end|>, <|content|>..<|end|> and
 * <|tool_calls|><|tool_call:begin|>id<|tool_call:name|>f<|tool_call:args|>{..}<|tool_call:end|>..<|calls|>, each
 * further one opened by "<|begin|>assistant" again ---- */

#define SOLAR_NEXT "<|begin|>assistant"
#define SOLAR_CALLS "<|tool_calls|>"
#define SOLAR_CALL "<|tool_call:begin|>"

/* One call after SOLAR_CALL: the model's id (ours replace it), the name, the JSON arguments, <|tool_call:end|>. */
static int solar_call(pctx *c) {
    size_t at;
    int f = find_within(c, c->pos, "<|tool_call:name|>", 64, &at);
    if (f <= 0) {
        return f < 0 ? R_STOP : R_NOT;
    }
    c->pos = at + strlen("<|tool_call:name|>");
    f = name_before(c, "<|tool_call:args|>", &at);
    if (f <= 0) {
        return f < 0 ? R_STOP : R_NOT;
    }
    size_t name = c->pos, end;
    int r = args_object(c, at + strlen("<|tool_call:args|>"), c->t + name, at - name, &end);
    if (r != R_DONE) {
        return r;
    }
    c->pos = end;
    r = expect_close(c, "<|tool_call:end|>");
    return r < 0 ? R_STOP : r == 0 ? R_BROKEN : R_DONE;
}

/* The calls section at c->pos (SOLAR_CALLS there), up to <|calls|>. False: parsing is over. */
static bool solar_calls(pctx *c) {
    size_t start = c->pos;
    c->pos += strlen(SOLAR_CALLS);
    for (bool first = true;; first = false) {
        size_t call_start = c->pos;
        int r = expect(c, SOLAR_CALL);
        if (r < 0) {
            return false;
        }
        if (r == 0) {
            if (first) {
                rest_content(c, start);
                return false;
            }
            c->pos = call_start;
            break;
        }
        if (!after_call(c, solar_call(c), first ? start : call_start)) {
            return false;
        }
    }
    return section_end(c, "<|calls|>");
}

/* Solar Open, its messages read by their markers (llama.cpp's reader knows only the calls section, and with tools
 * keeps the other markers in content): <|think|> is reasoning, <|content|> content, both up to <|end|>; text in no
 * message is content up to a calls section; without tools (parse_tool_calls false) a calls section is text. */
static void parse_solar_open(pctx *c) {
    static const char *const end[] = { "<|end|>" }, *const calls[] = { SOLAR_CALLS };
    for (bool first = true; c->pos < c->n || !c->final; first = false) {
        size_t start = c->pos;
        if (!next_message(c, first, SOLAR_NEXT)) {
            return;
        }
        int think = starts(c, c->pos, "<|think|>"), text = starts(c, c->pos, "<|content|>");
        int call = starts(c, c->pos, SOLAR_CALLS);
        if (think < 0 || text < 0 || call < 0) {
            return;
        }
        bool as_reasoning = think > 0 && c->p->reasoning != LLAMAC_REASONING_NONE;
        if (as_reasoning || text > 0) {
            c->pos += strlen(as_reasoning ? "<|think|>" : "<|content|>");
            if (scan_until(c, end, 1, as_reasoning) < 0) {
                return;
            }
            c->pos += strlen(end[0]);
            continue;
        }
        if (!c->p->parse_tool_calls) {
            rest_content(c, start);
            return;
        }
        if (call == 0) {
            /* text in no message: content up to a calls section */
            add_content(c, start, c->pos);
            if (scan_until(c, calls, 1, false) < 0) {
                return;
            }
        }
        if (!solar_calls(c)) {
            return;
        }
    }
}

/* ---- Muse Glimmer: after the prompt's "<|start|>assistant", messages " to=self<|message|>reasoning<|eom|>",
 * " to=user<|message|>text<|eot|>" (or just "<|message|>text") and, to a tool, " to=f<|message|><atem:function_calls>
 * \n<atem:invoke name="f">\n<atem:parameter name="k">v</atem:parameter>\n</atem:invoke>\n</atem:function_calls>",
 * each further one opened by "<|eom|><|start|>assistant" ---- */

#define MUSE_NEXT "<|start|>assistant"

static const xml_syntax MUSE_XML = {
    "<atem:parameter name=\"", "\">", "", "</atem:parameter>", "</atem:invoke>", false, false, false, NULL, NULL
};

/* A call message's body at c->pos: one invoke in <atem:function_calls>; the name is the invoke's, not the
 * recipient's (as llama.cpp reads it). */
static int muse_call(pctx *c) {
    int r = expect(c, "<atem:function_calls>");
    if (r <= 0) {
        return r < 0 ? R_STOP : R_NOT;
    }
    r = xml_invoke(c, "<atem:invoke name=\"", &MUSE_XML);
    if (r != R_DONE) {
        return r;
    }
    r = expect_close(c, "</atem:function_calls>");
    return r < 0 ? R_STOP : r == 0 ? R_BROKEN : R_DONE;
}

/* Muse Glimmer as llama.cpp's reader takes a reply: the self messages are reasoning, the user's (or a recipient-less
 * one) content, up to <|eom|> or <|eot|>; a message to any other recipient is a call. Without tools
 * (parse_tool_calls false) a call message is text. */
static void parse_muse(pctx *c) {
    static const char *const ends[] = { "<|eom|>", "<|eot|>" };
    for (bool first = true; c->pos < c->n || !c->final; first = false) {
        size_t start = c->pos;
        if (!next_message(c, first, MUSE_NEXT)) {
            return;
        }
        /* the header: " to=recipient<|message|>", or "<|message|>" alone */
        int to = starts(c, c->pos, " to="), bare = starts(c, c->pos, "<|message|>");
        if (to < 0 || bare < 0) {
            return;
        }
        size_t msg = c->pos;
        int f = to > 0 ? find_within(c, c->pos, "<|message|>", NAME_MAX_LEN + 4, &msg) : bare;
        if (f < 0) {
            return;
        }
        if (f == 0) {
            rest_content(c, start);
            return;
        }
        size_t who = c->pos + (msg > c->pos ? strlen(" to=") : 0), who_n = msg - who;
        bool self = who_n == 4 && !memcmp(c->t + who, "self", 4);
        bool user = msg == c->pos || (who_n == 4 && !memcmp(c->t + who, "user", 4));
        c->pos = msg + strlen("<|message|>");
        if (!self && !user) {
            if (!c->p->parse_tool_calls) {
                rest_content(c, start);
                return;
            }
            if (!after_call(c, muse_call(c), start)) {
                return;
            }
            int r = expect_close(c, ends[0]);
            if (r <= 0) {
                if (r == 0) {
                    rest_content(c, c->pos);
                }
                return;
            }
            continue;
        }
        bool as_reasoning = self && c->p->reasoning != LLAMAC_REASONING_NONE;
        int which = scan_until(c, ends, self ? 1 : 2, as_reasoning);
        if (which < 0) {
            return; /* final: an unended message is all its kind */
        }
        c->pos += strlen(ends[which]);
        if (which == 1) {
            rest_content(c, c->pos); /* the end of the turn */
            return;
        }
    }
}

/* ---- Apriel 1.5/1.6: <tool_calls>[{"name","arguments"}, ...]</tool_calls> ---- */

static void parse_apriel(pctx *c) {
    static const json_keys keys = { NAME_KEYS, ARGS_KEYS };
    if (think_block(c, "<think>", "</think>")) {
        list_sections(c, "<tool_calls>", "</tool_calls>", json_item, &keys, 0);
    }
}

/* ---- Nemotron Nano v2: <TOOLCALL>[{"name","arguments"}, ...]</TOOLCALL>; only </think> ends the thinking (a call
 * written inside it is reasoning, as llama.cpp reads it) ---- */

static void parse_nemotron_v2(pctx *c) {
    static const json_keys keys = { NAME_KEYS, ARGS_KEYS };
    if (think_block(c, "<think>", "</think>")) {
        list_sections(c, "<TOOLCALL>", "</TOOLCALL>", json_item, &keys, 0);
    }
}

/* ---- GigaChat 3: text, then <|message_sep|>\n\nfunction call<|role_sep|>\n{"name","arguments"}: one call ---- */

#define GIGACHAT_CALL "<|message_sep|>\n\nfunction call<|role_sep|>\n"

static void parse_gigachat(pctx *c) {
    static const char *const markers[] = { GIGACHAT_CALL };
    if (scan_until(c, markers, 1, false) < 0) {
        return;
    }
    size_t start = c->pos, end;
    c->pos += strlen(GIGACHAT_CALL);
    if (!skip_ws(c) || !after_call(c, object_call(c, c->pos, NAME_KEYS, ARGS_KEYS, &end), start)) {
        return;
    }
    c->pos = end;
    if (skip_ws(c)) {
        rest_content(c, c->pos); /* what follows the one call is text (llama.cpp drops it) */
    }
}

/* ---- GigaChat 3.1: text, then <|function_call|>{"name","arguments"} (one call; llamac reads more in a row) ---- */

static void parse_gigachat31(pctx *c) {
    static const char *const markers[] = { "<|function_call|>" };
    for (;;) {
        if (scan_until(c, markers, 1, false) < 0) {
            return;
        }
        size_t start = c->pos, end;
        c->pos += strlen(markers[0]);
        if (!skip_ws(c) || !after_call(c, object_call(c, c->pos, NAME_KEYS, ARGS_KEYS, &end), start)) {
            return;
        }
        c->pos = end;
        if (!skip_ws(c)) {
            return;
        }
    }
}

/* ---- Functionary v3.1 (Llama 3.1): <function=name>{...}</function> ---- */

static void parse_functionary_v3_1(pctx *c) {
    static const char *const markers[] = { "<function=" };
    for (;;) {
        if (scan_until(c, markers, 1, false) < 0) {
            return;
        }
        size_t start = c->pos, gt, end;
        c->pos += strlen(markers[0]);
        int named = name_before(c, ">", &gt);
        if (named < 0) {
            return;
        }
        if (named == 0) {
            rest_content(c, start);
            return;
        }
        if (!after_call(c, args_object(c, gt + 1, c->t + c->pos, gt - c->pos, &end), start)) {
            return;
        }
        c->pos = end;
        int r = expect(c, "</function>");
        if (r < 0 || (r > 0 && !skip_ws(c))) {
            return;
        }
    }
}

/* ---- Firefunction v2: text, then " functools[{"name","arguments"}, ...]" ---- */

static void parse_firefunction(pctx *c) {
    static const char *const markers[] = { "functools[" };
    size_t w = tc_json_ws(c->t, c->n);
    int s = starts(c, w, markers[0]);
    if (s < 0 || (w == c->n && !c->final)) {
        return;
    }
    if (s > 0) {
        c->pos = w; /* white space before a call that begins the reply is no content */
    }
    if (scan_until(c, markers, 1, false) < 0) {
        return;
    }
    size_t start = c->pos, end = 0;
    c->pos += strlen("functools");
    if (after_call(c, array_calls(c, c->pos, NAME_KEYS, ARGS_KEYS, &end), start)) {
        c->pos = end;
        if (skip_ws(c)) {
            rest_content(c, c->pos);
        }
    }
}

/* ---- Llama 3.x: {"name":..,"parameters":..} as the whole reply, or <|python_tag|> ---- */

static void parse_llama3(pctx *c) {
    static const char *const markers[] = { "<|python_tag|>" };
    size_t w = tc_json_ws(c->t, c->n);
    if (w == c->n && !c->final) {
        return;
    }
    if (w < c->n && c->t[w] == '{') {
        size_t end;
        if (!after_call(c, object_call(c, w, NAME_KEYS, ARGS_KEYS, &end), 0)) {
            return;
        }
        c->pos = end;
        if (skip_ws(c)) {
            rest_content(c, c->pos);
        }
        return;
    }
    if (scan_until(c, markers, 1, false) < 0) {
        return;
    }
    size_t start = c->pos, end;
    c->pos += strlen(markers[0]);
    if (!skip_ws(c)) {
        return;
    }
    if (c->pos < c->n && c->t[c->pos] == '{') {
        if (after_call(c, object_call(c, c->pos, NAME_KEYS, ARGS_KEYS, &end), start)) {
            c->pos = end;
            if (skip_ws(c)) {
                rest_content(c, c->pos);
            }
        }
        return;
    }
    if (!c->final) {
        return; /* code for the built-in python tool: one string, decided at the end */
    }
    llamac__dynbuf args = LLAMAC__DYNBUF(TC_BUF_MAX);
    tc_buf_add(&args, "{\"code\":", 8, &c->m->oom);
    tc_json_quote(&args, c->t + c->pos, c->n - c->pos, &c->m->oom);
    tc_buf_add(&args, "}", 1, &c->m->oom);
    if (!c->m->oom) {
        call_with(c, "python", 6, args.p, args.len);
    }
    llamac__dynbuf_free(&args);
    c->pos = c->n;
}

/* ---- Mistral: [TOOL_CALLS][{"name","arguments","id"}] or [TOOL_CALLS]name[ARGS]{...} ---- */

static void parse_mistral(pctx *c) {
    static const char *const markers[] = { "[TOOL_CALLS]" };
    if (!think_block(c, "[THINK]", "[/THINK]")) {
        return;
    }
    for (;;) {
        if (scan_until(c, markers, 1, false) < 0) {
            return;
        }
        size_t start = c->pos, end;
        c->pos += strlen(markers[0]);
        if (!skip_ws(c)) {
            return;
        }
        if (c->pos == c->n) {
            rest_content(c, start);
            return;
        }
        if (c->t[c->pos] == '[') {
            if (!after_call(c, array_calls(c, c->pos, NAME_KEYS, ARGS_KEYS, &end), start)) {
                return;
            }
            c->pos = end;
        } else {
            size_t a;
            int f = find_within(c, c->pos, "[ARGS]", NAME_MAX_LEN, &a);
            if (f < 0) {
                return;
            }
            if (f == 0 || a == c->pos) {
                rest_content(c, start);
                return;
            }
            size_t args = a + strlen("[ARGS]"), name_end = a, id;
            args += tc_json_ws(c->t + args, c->n - args);
            if (find_within(c, c->pos, "[CALL_ID]", a - c->pos, &id) > 0) {
                name_end = id; /* Mistral Small 3.2: name[CALL_ID]id[ARGS]{...}; the id is the model's own */
            }
            if (name_end == c->pos) {
                rest_content(c, start);
                return;
            }
            if (!after_call(c, args_object(c, args, c->t + c->pos, name_end - c->pos, &end), start)) {
                return;
            }
            c->pos = end;
        }
        if (!skip_ws(c)) {
            return;
        }
    }
}

/* ---- DeepSeek R1 and V3.1 ---- */

/* One call after its begin marker. R1: type<sep>name\n```json\n{...}\n```; V3.1: name<sep>{...}. */
static int deepseek_call(pctx *c, bool r1) {
    size_t sep;
    int f = find_within(c, c->pos, DS_SEP, NAME_MAX_LEN, &sep);
    if (f <= 0) {
        return f < 0 ? R_STOP : R_NOT;
    }
    size_t name = c->pos, name_end = sep, args = sep + strlen(DS_SEP);
    if (r1) {
        name = args;
        name_end = find(c, name, "\n");
        if (name_end == SIZE_MAX) {
            return c->final || c->n - name > NAME_MAX_LEN ? R_NOT : R_STOP;
        }
        args = name_end + 1;
        c->pos = args;
        int r = expect(c, "```json");
        if (r <= 0) {
            return r < 0 ? R_STOP : R_NOT;
        }
        args = c->pos + tc_json_ws(c->t + c->pos, c->n - c->pos);
    } else {
        args += tc_json_ws(c->t + args, c->n - args);
    }
    if (name_end == name || name_end - name > NAME_MAX_LEN || memchr(c->t + name, '\n', name_end - name)) {
        return R_NOT;
    }
    size_t end;
    int r = args_object(c, args, c->t + name, name_end - name, &end);
    if (r != R_DONE) {
        return r;
    }
    c->pos = end;
    if (r1) {
        int e = expect(c, "```");
        if (e <= 0) {
            return e < 0 ? R_STOP : R_BROKEN;
        }
    }
    int e = expect(c, DS_CALL_END);
    return e < 0 ? R_STOP : e == 0 ? R_BROKEN : R_DONE;
}

static void parse_deepseek(pctx *c, bool r1) {
    static const char *const markers[] = { DS_CALLS_BEGIN, DS_CALL_BEGIN };
    if (!think_block(c, "<think>", "</think>")) {
        return;
    }
    if (scan_until(c, markers, 2, false) < 0) {
        return;
    }
    size_t start = c->pos;
    if (starts(c, c->pos, DS_CALLS_BEGIN) > 0) {
        c->pos += strlen(DS_CALLS_BEGIN);
    }
    bool first = true;
    for (;;) {
        size_t call_start = c->pos;
        int r = expect(c, DS_CALL_BEGIN);
        if (r < 0) {
            return;
        }
        if (r == 0) {
            if (first) {
                rest_content(c, start);
                return;
            }
            break;
        }
        r = deepseek_call(c, r1);
        if (!after_call(c, r, first ? start : call_start)) {
            return;
        }
        first = false;
    }
    int r = expect(c, DS_CALLS_END);
    if (r < 0) {
        return;
    }
    if (skip_ws(c)) {
        rest_content(c, c->pos);
    }
}

/* ---- Kimi K2: <|tool_calls_section_begin|><|tool_call_begin|>functions.f:0<|tool_call_argument_begin|>{...}
 * <|tool_call_end|>...<|tool_calls_section_end|> ---- */

#define KIMI_SECTION "<|tool_calls_section_begin|>"
#define KIMI_SECTION_END "<|tool_calls_section_end|>"
#define KIMI_CALL "<|tool_call_begin|>"
#define KIMI_ARGS "<|tool_call_argument_begin|>"
#define KIMI_CALL_END "<|tool_call_end|>"

/* One call after its begin marker: functions.<name>:<index> then the arguments marker and a JSON object. */
static int kimi_call(pctx *c) {
    size_t a;
    int f = find_within(c, c->pos, KIMI_ARGS, NAME_MAX_LEN + 32, &a);
    if (f <= 0) {
        return f < 0 ? R_STOP : R_NOT;
    }
    size_t name = c->pos + strlen("functions."), colon = a;
    while (colon > name && c->t[colon - 1] >= '0' && c->t[colon - 1] <= '9') {
        colon--;
    }
    if (starts(c, c->pos, "functions.") <= 0 || colon == a || colon <= name + 1 || c->t[colon - 1] != ':') {
        return R_NOT;
    }
    for (size_t i = name; i < colon - 1; i++) {
        if (!name_char(c->t[i])) {
            return R_NOT;
        }
    }
    size_t end;
    int r = args_object(c, a + strlen(KIMI_ARGS), c->t + name, colon - 1 - name, &end);
    if (r != R_DONE) {
        return r;
    }
    c->pos = end;
    r = starts(c, c->pos, KIMI_CALL_END);
    if (r < 0) {
        return R_STOP;
    }
    if (r > 0) {
        c->pos += strlen(KIMI_CALL_END);
    }
    return R_DONE;
}

static void parse_kimi(pctx *c) {
    static const char *const markers[] = { KIMI_SECTION, KIMI_CALL };
    if (!think_until_call(c, markers, 2) || scan_until(c, markers, 2, false) < 0) {
        return;
    }
    size_t start = c->pos;
    if (starts(c, c->pos, KIMI_SECTION) > 0) {
        c->pos += strlen(KIMI_SECTION);
    }
    for (bool first = true;; first = false) {
        size_t call_start = c->pos;
        int r = starts(c, c->pos, KIMI_CALL);
        if (r < 0) {
            return;
        }
        if (r == 0) {
            if (first) {
                rest_content(c, start);
                return;
            }
            break;
        }
        c->pos += strlen(KIMI_CALL);
        if (!after_call(c, kimi_call(c), first ? start : call_start)) {
            return;
        }
    }
    int r = starts(c, c->pos, KIMI_SECTION_END);
    if (r < 0) {
        return;
    }
    if (r > 0) {
        c->pos += strlen(KIMI_SECTION_END);
    }
    rest_content(c, c->pos);
}

/* ---- Kimi K3: tagged sections <|open|>tag attrs<|sep|> ... <|close|>tag<|sep|> in one assistant message:
 * [think] [response] [tools: call+] <|close|>message<|sep|><|end_of_msg|> ---- */

#define K3_MSG "<|open|>message role=\"assistant\"" K3_SEP
#define K3_MSG_END "<|close|>message" K3_SEP
#define K3_EOM "<|end_of_msg|>"
#define K3_THINK "<|open|>think" K3_SEP
#define K3_THINK_END "<|close|>think" K3_SEP
#define K3_RESP "<|open|>response" K3_SEP
#define K3_RESP_END "<|close|>response" K3_SEP
#define K3_TOOLS "<|open|>tools" K3_SEP
#define K3_TOOLS_END "<|close|>tools" K3_SEP
#define K3_CALL "<|open|>call tool=\""

/* Consumes `s` when the text at c->pos starts with it. False: the text ends while it still could (stop). */
static bool skip_marker(pctx *c, const char *s) {
    int r = starts(c, c->pos, s);
    if (r > 0) {
        c->pos += strlen(s);
    }
    return r >= 0;
}

/* One call after K3_CALL: name" attributes<|sep|> (index="1"), then its arguments up to <|close|>call<|sep|>. */
static int k3_call(pctx *c) {
    size_t q, sep;
    int f = name_before(c, "\"", &q);
    if (f <= 0) {
        return f < 0 ? R_STOP : R_NOT;
    }
    f = find_within(c, q + 1, K3_SEP, 64, &sep);
    if (f <= 0) {
        return f < 0 ? R_STOP : R_NOT;
    }
    tc_call *call = call_with(c, c->t + c->pos, q - c->pos, "{", 1);
    if (!call) {
        return R_STOP;
    }
    c->pos = sep + strlen(K3_SEP);
    return xml_args(c, call, &K3_XML);
}

/* The tools section at c->pos (its marker there): calls, then <|close|>tools<|sep|>. False: parsing is over. */
static bool k3_tools(pctx *c) {
    size_t start = c->pos;
    c->pos += strlen(K3_TOOLS);
    for (bool first = true;; first = false) {
        size_t call_start = c->pos;
        int r = starts(c, c->pos, K3_CALL);
        if (r < 0) {
            return false;
        }
        if (r == 0) {
            if (first) {
                rest_content(c, start);
                return false;
            }
            break;
        }
        c->pos += strlen(K3_CALL);
        if (!after_call(c, k3_call(c), first ? start : call_start)) {
            return false;
        }
    }
    return section_end(c, K3_TOOLS_END);
}

/* Kimi K3, as llama.cpp's reader takes a reply (the prompt opened the message and its think section): reasoning up
 * to the end of the think section or the start of the response; the response's text is the content (its markers
 * are not); then, with tools, the tools section; the message's closing markers are dropped. With reasoning off the
 * reply is content up to the tools section. */
static void parse_kimi_k3(pctx *c) {
    if (!skip_marker(c, K3_MSG)) {
        return;
    }
    if (c->p->reasoning != LLAMAC_REASONING_NONE) {
        bool open = c->p->reasoning_open;
        if (!open) {
            int r = starts(c, c->pos, K3_THINK);
            if (r < 0) {
                return;
            }
            open = r > 0;
            c->pos += r > 0 ? strlen(K3_THINK) : 0;
        } else if (c->p->lead) {
            tc_buf_add(&c->m->reasoning, c->p->lead, strlen(c->p->lead), &c->m->oom);
        }
        static const char *const ends[] = { K3_THINK_END, K3_RESP };
        int w = open ? scan_until(c, ends, 2, true) : 1;
        if (w < 0) {
            return; /* final: unclosed thinking is all reasoning */
        }
        c->pos += w == 0 ? strlen(K3_THINK_END) : 0;
    }
    if (!skip_marker(c, K3_RESP)) {
        return;
    }
    static const char *const ends[] = { K3_RESP_END, K3_MSG_END, K3_TOOLS };
    int w = scan_until(c, ends, c->p->parse_tool_calls ? 3 : 2, false);
    if (w < 0) {
        return;
    }
    if (w == 0) {
        c->pos += strlen(K3_RESP_END);
    }
    if (c->p->parse_tool_calls) {
        int r = starts(c, c->pos, K3_TOOLS);
        if (r < 0 || (r > 0 && !k3_tools(c))) {
            return;
        }
    }
    if (skip_marker(c, K3_MSG_END) && skip_marker(c, K3_EOM)) {
        rest_content(c, c->pos);
    }
}

/* ---- Functionary v3.2: name\n{...}>>>name\n{...}, "all\n" for text ---- */

static void parse_functionary(pctx *c) {
    static const char *const markers[] = { ">>>" };
    if (starts(c, 0, ">>>") < 0) {
        return;
    }
    if (starts(c, 0, ">>>") > 0) {
        c->pos = 3;
    }
    for (;;) {
        size_t start = c->pos, i = c->pos;
        while (i < c->n && i - start <= NAME_MAX_LEN && name_char(c->t[i])) {
            i++;
        }
        if (i == c->n && !c->final && i - start <= NAME_MAX_LEN) {
            return;
        }
        if (i == start || i == c->n || c->t[i] != '\n' || i - start > NAME_MAX_LEN) {
            rest_content(c, start);
            return;
        }
        if (i - start == 3 && memcmp(c->t + start, "all", 3) == 0) {
            c->pos = i + 1;
            if (scan_until(c, markers, 1, false) < 0) {
                return;
            }
            c->pos += 3;
            continue;
        }
        size_t args = i + 1 + tc_json_ws(c->t + i + 1, c->n - i - 1), end;
        if (!after_call(c, args_object(c, args, c->t + start, i - start, &end), start)) {
            return;
        }
        c->pos = end;
        int r = expect(c, ">>>");
        if (r < 0) {
            return;
        }
        if (r == 0) {
            if (skip_ws(c)) {
                rest_content(c, c->pos);
            }
            return;
        }
    }
}

/* ---- Command R7B: <|START_THINKING|>..<|END_THINKING|><|START_ACTION|>[...]<|END_ACTION|>; Cohere2 MoE the same
 * with its text in <|START_TEXT|>..<|END_TEXT|> ---- */

/* Cohere2 MoE's thinking, which its prompt opened (Command R7B's never does), as llama.cpp's reader for it takes it:
 * reasoning up to <|END_THINKING|> (which goes) or to the <|START_TEXT|> or <|START_ACTION|> that ends it too.
 * False: stop (final: unclosed thinking is all reasoning). */
static bool cohere2moe_think(pctx *c) {
    static const char *const ends[] = { "<|END_THINKING|>", "<|START_TEXT|>", "<|START_ACTION|>" };
    bool as_reasoning = c->p->reasoning != LLAMAC_REASONING_NONE;
    if (as_reasoning && c->p->lead) {
        tc_buf_add(&c->m->reasoning, c->p->lead, strlen(c->p->lead), &c->m->oom);
    }
    int which = scan_until(c, ends, 3, as_reasoning);
    if (which < 0) {
        return false;
    }
    if (which == 0) {
        if (!as_reasoning) {
            add_content(c, c->pos, c->pos + strlen(ends[0]));
        }
        c->pos += strlen(ends[0]);
    }
    return true;
}

static void parse_command_r7b(pctx *c) {
    static const char *const markers[] = { "<|START_THINKING|>", "<|START_RESPONSE|>", "<|START_ACTION|>",
                                           "<|START_TEXT|>" };
    static const char *const ends[] = { "<|END_THINKING|>", "<|END_RESPONSE|>", NULL, "<|END_TEXT|>" };
    static const char *const name_keys[] = { "tool_name", NULL };
    static const char *const args_keys[] = { "parameters", NULL };
    bool cohere2moe = c->p->reasoning_open; /* <|START_TEXT|> is text there; Command R7B keeps it as it is */
    if (cohere2moe && !cohere2moe_think(c)) {
        return;
    }
    for (;;) {
        int which = scan_until(c, markers, cohere2moe ? 4 : 3, false);
        if (which < 0) {
            return;
        }
        size_t start = c->pos;
        c->pos += strlen(markers[which]);
        if (which == 0 && c->p->reasoning == LLAMAC_REASONING_NONE) {
            add_content(c, start, c->pos);
        } else if (which != 2) {
            if (scan_until(c, &ends[which], 1, which == 0) < 0) {
                return;
            }
            c->pos += strlen(ends[which]);
        } else {
            size_t end;
            if (!skip_ws(c) || !after_call(c, array_calls(c, c->pos, name_keys, args_keys, &end), start)) {
                return;
            }
            c->pos = end;
            int r = expect(c, "<|END_ACTION|>");
            if (r < 0) {
                return;
            }
        }
    }
}

/* ---- Command R+ (its tool_use template): text, then "\nAction:\n```json\n" [{"tool_name","parameters"}, ...] "```"
 * ---- */

#define CRP_ACTION "Action:\n```json\n"

static void parse_command_r_plus(pctx *c) {
    /* the template writes the newline before "Action:" (after the turn's text): it belongs to the marker */
    static const char *const markers[] = { "\n" CRP_ACTION, CRP_ACTION };
    static const char *const name_keys[] = { "tool_name", NULL }, *const args_keys[] = { "parameters", NULL };
    static const json_keys keys = { name_keys, args_keys };
    /* white space before a first block is no text (llama.cpp's reader skips it), unless the block is no call */
    size_t w = ws_at(c, c->pos), lead = c->pos;
    int s = w == c->n && !c->final ? -1 : starts(c, w, CRP_ACTION);
    if (s < 0) {
        return;
    }
    c->pos = s > 0 ? w : c->pos;
    for (bool first = true;; first = false) {
        int which = scan_until(c, markers, 2, false);
        if (which < 0) {
            return;
        }
        size_t start = first && s > 0 ? lead : c->pos, end = 0;
        c->pos += strlen(markers[which]);
        if (!skip_ws(c) || !after_call(c, call_list(c, c->pos, json_item, &keys, 0, &end), start)) {
            return;
        }
        c->pos = end;
        if (!section_end(c, "```")) {
            return;
        }
    }
}

/* ---- gpt-oss / Harmony: <|channel|>analysis<|message|>..<|end|><|start|>assistant<|channel|>final.. ---- */

static void parse_harmony(pctx *c) {
    static const char *const ends[] = { "<|end|>", "<|call|>", "<|return|>", "<|start|>" };
    for (;;) {
        int r = starts(c, c->pos, "<|start|>");
        if (r < 0) {
            return;
        }
        if (r > 0) {
            /* "<|start|>assistant" then the header: the role is short. */
            size_t role, to;
            int fr = find_within(c, c->pos, "<|channel|>", 64, &role), ft = find_within(c, c->pos, " to=", 64, &to);
            if (fr < 0 || ft < 0) {
                return;
            }
            if (fr == 0 && ft == 0) {
                rest_content(c, c->pos);
                return;
            }
            size_t h = fr > 0 && (ft == 0 || role < to) ? role : to;
            c->pos = h;
        }
        if (c->pos == c->n) {
            return;
        }
        int a = starts(c, c->pos, "<|channel|>"), b = starts(c, c->pos, " to=");
        if (a < 0 || b < 0) {
            return;
        }
        if (a == 0 && b == 0) {
            rest_content(c, c->pos);
            return;
        }
        size_t start = c->pos, msg;
        int fm = find_within(c, c->pos, "<|message|>", 512, &msg);
        if (fm < 0) {
            return;
        }
        if (fm == 0) {
            rest_content(c, start);
            return;
        }
        size_t body = msg + strlen("<|message|>");
        size_t to = find(c, start, " to=functions.");
        bool call = to < msg;
        size_t ch = find(c, start, "<|channel|>analysis");
        bool analysis = !call && ch < msg;
        if (call) {
            size_t name = to + strlen(" to=functions."), ne = name;
            while (ne < msg && name_char(c->t[ne])) {
                ne++;
            }
            size_t end;
            if (ne == name) {
                rest_content(c, start);
                return;
            }
            if (!after_call(c, args_object(c, body, c->t + name, ne - name, &end), start)) {
                return;
            }
            c->pos = end;
            int e = expect(c, "<|call|>");
            if (e < 0) {
                return;
            }
            if (e == 0) {
                rest_content(c, c->pos);
                return;
            }
            continue;
        }
        bool as_reasoning = analysis && c->p->reasoning != LLAMAC_REASONING_NONE;
        if (analysis && !as_reasoning) {
            add_content(c, start, body);
        }
        c->pos = body;
        int which = scan_until(c, ends, 4, as_reasoning);
        if (which < 0) {
            return;
        }
        if (analysis && !as_reasoning) {
            add_content(c, c->pos, c->pos + strlen(ends[which]));
        }
        if (which != 3) {
            c->pos += strlen(ends[which]);
        }
    }
}

/* ---- generic: {"tool_calls":[{"name","arguments"}]} | {"tool_call":{...}} | {"response":"..."} ---- */

static void generic_add(pctx *c, json_t *call) {
    json_t *name = json_object_get(call, "name"), *args = json_object_get(call, "arguments");
    if (!json_is_string(name) || json_string_length(name) == 0) {
        return;
    }
    char *s = json_is_object(args) ? json_dumps(args, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    call_with(c, json_string_value(name), json_string_length(name), s ? s : "{}", s ? strlen(s) : 2);
    free(s);
}

static void parse_generic(pctx *c) {
    if (c->p->think_start && !think_block(c, "", "")) {
        return;
    }
    size_t base = c->pos;
    size_t w = base + tc_json_ws(c->t + base, c->n - base);
    if (w == c->n || c->t[w] != '{') {
        if (c->final || w < c->n) {
            rest_content(c, base);
        }
        return;
    }
    if (!c->final) {
        return; /* decided as a whole at the end */
    }
    json_error_t err;
    json_t *j = json_loadb(c->t + w, c->n - w, 0, &err);
    if (!j) {
        /* Cut short (max_tokens, a stop string) or broken: no call, the text as it stands. llama.cpp has no parser of
         * its own for these templates (it reads the reply as content), so only a whole object counts as calls. */
        rest_content(c, base);
        return;
    }
    json_t *calls = json_object_get(j, "tool_calls"), *one = json_object_get(j, "tool_call");
    json_t *resp = json_object_get(j, "response");
    if (json_is_array(calls) && json_array_size(calls) > 0) {
        size_t i;
        json_t *v;
        json_array_foreach(calls, i, v) {
            generic_add(c, v);
        }
    } else if (json_is_object(one)) {
        generic_add(c, one);
    } else if (json_is_string(resp)) {
        tc_buf_add(&c->m->content, json_string_value(resp), json_string_length(resp), &c->m->oom);
    }
    if (c->m->n_calls == 0 && c->m->content.len == 0) {
        rest_content(c, base);
    }
    json_decref(j);
}

/* ---- values written in a family's own notation, converted to JSON (Gemma 4, LFM2) ---- */

#define VALUE_MAX_DEPTH 32
#define KEY_MAX_LEN 256

/* Outcomes of reading one value: complete (*end set, its JSON appended), the text ends inside it (only when not
 * final), or not a value. */
enum { V_OK, V_MORE, V_BAD };

/* V_MORE when the text may still go on, else V_BAD: what a reader answers when the text ends too soon. */
static int v_ended(const pctx *c) {
    return c->final ? V_BAD : V_MORE;
}

/* A JSON number at `at` (Python's are the same), copied. */
static int v_number(const pctx *c, size_t at, llamac__dynbuf *out, bool *oom, size_t *end) {
    size_t i = at;
    if (i < c->n && c->t[i] == '-') {
        i++;
    }
    if (i == c->n) {
        return v_ended(c);
    }
    if (c->t[i] == '0') {
        i++;
    } else if (c->t[i] >= '1' && c->t[i] <= '9') {
        while (i < c->n && c->t[i] >= '0' && c->t[i] <= '9') {
            i++;
        }
    } else {
        return V_BAD;
    }
    for (int part = 0; part < 2; part++) { /* the fraction, then the exponent */
        bool frac = part == 0;
        if (i < c->n && (frac ? c->t[i] == '.' : (c->t[i] == 'e' || c->t[i] == 'E'))) {
            i++;
            if (!frac && i < c->n && (c->t[i] == '+' || c->t[i] == '-')) {
                i++;
            }
            size_t digits = i;
            while (i < c->n && c->t[i] >= '0' && c->t[i] <= '9') {
                i++;
            }
            if (i == c->n && i == digits) {
                return v_ended(c);
            }
            if (i == digits) {
                return V_BAD;
            }
        }
    }
    if (i == c->n && !c->final) {
        return V_MORE; /* more digits may follow */
    }
    tc_buf_add(out, c->t + at, i - at, oom);
    *end = i;
    return V_OK;
}

/* One of the words `words` (pairs: as written, as JSON) at `at`. */
static int v_word(const pctx *c, size_t at, const char *const *words, size_t nw, llamac__dynbuf *out, bool *oom,
                  size_t *end) {
    bool more = false;
    for (size_t k = 0; k < nw; k += 2) {
        int r = starts(c, at, words[k]);
        if (r > 0) {
            tc_buf_add(out, words[k + 1], strlen(words[k + 1]), oom);
            *end = at + strlen(words[k]);
            return V_OK;
        }
        more = more || r < 0;
    }
    return more ? V_MORE : V_BAD;
}

/* Gemma 4's notation: strings between <|"|> marks (raw text), dictionaries {key:value,...} with bare keys, arrays,
 * JSON numbers, true, false, null. */
#define G4_QUOTE "<|\"|>"

static int g4_value(const pctx *c, size_t at, int depth, llamac__dynbuf *out, bool *oom, size_t *end);

/* A dictionary (`close` '}') or array (']') at `at`, its opening character already checked. */
static int g4_container(const pctx *c, size_t at, int depth, char close, llamac__dynbuf *out, bool *oom, size_t *end) {
    if (depth > VALUE_MAX_DEPTH) {
        return V_BAD;
    }
    size_t i = ws_at(c, at + 1);
    if (i == c->n) {
        return v_ended(c);
    }
    tc_buf_add(out, close == '}' ? "{" : "[", 1, oom);
    for (bool first = true; c->t[i] != close || !first; first = false) {
        if (!first) {
            tc_buf_add(out, ",", 1, oom);
        }
        if (close == '}') {
            size_t k = i;
            while (i < c->n && i - k <= KEY_MAX_LEN && c->t[i] != ':' && c->t[i] != '}') {
                i++;
            }
            if (i == c->n && i - k <= KEY_MAX_LEN) {
                return v_ended(c);
            }
            if (i == k || i - k > KEY_MAX_LEN || c->t[i] != ':') {
                return V_BAD;
            }
            tc_json_quote(out, c->t + k, i - k, oom);
            tc_buf_add(out, ":", 1, oom);
            i = ws_at(c, i + 1);
        }
        size_t e;
        int r = g4_value(c, i, depth + 1, out, oom, &e);
        if (r != V_OK) {
            return r;
        }
        i = e;
        if (i == c->n) {
            return v_ended(c);
        }
        if (c->t[i] == ',') {
            i = ws_at(c, i + 1);
            if (i == c->n) {
                return v_ended(c);
            }
            continue;
        }
        i = ws_at(c, i);
        if (i == c->n) {
            return v_ended(c);
        }
        if (c->t[i] != close) {
            return V_BAD;
        }
        break;
    }
    tc_buf_add(out, close == '}' ? "}" : "]", 1, oom);
    *end = i + 1;
    return V_OK;
}

static int g4_value(const pctx *c, size_t at, int depth, llamac__dynbuf *out, bool *oom, size_t *end) {
    static const char *const words[] = { "true", "true", "false", "false", "null", "null" };
    if (at >= c->n) {
        return v_ended(c);
    }
    char ch = c->t[at];
    if (ch == '{' || ch == '[') {
        return g4_container(c, at, depth, ch == '{' ? '}' : ']', out, oom, end);
    }
    if (ch == '-' || (ch >= '0' && ch <= '9')) {
        return v_number(c, at, out, oom, end);
    }
    int r = starts(c, at, G4_QUOTE);
    if (r < 0) {
        return V_MORE;
    }
    if (r > 0) {
        size_t s = at + strlen(G4_QUOTE), q = find(c, s, G4_QUOTE);
        if (q == SIZE_MAX) {
            return v_ended(c);
        }
        tc_json_quote(out, c->t + s, q - s, oom);
        *end = q + strlen(G4_QUOTE);
        return V_OK;
    }
    return v_word(c, at, words, 6, out, oom, end);
}

/* Python's notation as LFM2 writes it: strings in '' or "" (with backslash escapes), numbers, True/False/None (and
 * JSON's true/false/null), lists, dictionaries with string keys. */
static int py_value(const pctx *c, size_t at, int depth, llamac__dynbuf *out, bool *oom, size_t *end);

/* A quoted string at `at` as a JSON string: a single-quoted one gets double quotes, its \' unescaped and its " escaped
 * (escapes are otherwise kept as written, as llama.cpp converts them). */
static int py_string(const pctx *c, size_t at, llamac__dynbuf *out, bool *oom, size_t *end) {
    char q = c->t[at];
    tc_buf_add(out, "\"", 1, oom);
    size_t i = at + 1, run = i;
    for (; i < c->n && c->t[i] != q; i++) {
        if (c->t[i] == '\\' && i + 1 < c->n && q == '\'' && c->t[i + 1] == '\'') {
            tc_buf_add(out, c->t + run, i - run, oom);
            run = ++i; /* \' is ' */
        } else if (c->t[i] == '\\') {
            i++;
        } else if (c->t[i] == '"') {
            tc_buf_add(out, c->t + run, i - run, oom);
            tc_buf_add(out, "\\\"", 2, oom);
            run = i + 1;
        }
    }
    if (i >= c->n) {
        return v_ended(c);
    }
    tc_buf_add(out, c->t + run, i - run, oom);
    tc_buf_add(out, "\"", 1, oom);
    *end = i + 1;
    return V_OK;
}

static int py_container(const pctx *c, size_t at, int depth, char close, llamac__dynbuf *out, bool *oom, size_t *end) {
    if (depth > VALUE_MAX_DEPTH) {
        return V_BAD;
    }
    size_t i = ws_at(c, at + 1), e;
    if (i == c->n) {
        return v_ended(c);
    }
    tc_buf_add(out, close == '}' ? "{" : "[", 1, oom);
    for (bool first = true; c->t[i] != close || !first; first = false) {
        if (!first) {
            tc_buf_add(out, ",", 1, oom);
        }
        int r;
        if (close == '}') {
            if (c->t[i] != '"' && c->t[i] != '\'') {
                return V_BAD;
            }
            r = py_string(c, i, out, oom, &e);
            if (r != V_OK) {
                return r;
            }
            i = ws_at(c, e);
            if (i == c->n) {
                return v_ended(c);
            }
            if (c->t[i] != ':') {
                return V_BAD;
            }
            tc_buf_add(out, ":", 1, oom);
            i = ws_at(c, i + 1);
        }
        r = py_value(c, i, depth + 1, out, oom, &e);
        if (r != V_OK) {
            return r;
        }
        i = ws_at(c, e);
        if (i == c->n) {
            return v_ended(c);
        }
        if (c->t[i] == ',') {
            i = ws_at(c, i + 1);
            if (i == c->n) {
                return v_ended(c);
            }
            continue;
        }
        if (c->t[i] != close) {
            return V_BAD;
        }
        break;
    }
    tc_buf_add(out, close == '}' ? "}" : "]", 1, oom);
    *end = i + 1;
    return V_OK;
}

static int py_value(const pctx *c, size_t at, int depth, llamac__dynbuf *out, bool *oom, size_t *end) {
    static const char *const words[] = { "True", "true", "False", "false", "None", "null",
                                         "true", "true", "false", "false", "null", "null" };
    if (at >= c->n) {
        return v_ended(c);
    }
    char ch = c->t[at];
    if (ch == '{' || ch == '[') {
        return py_container(c, at, depth, ch == '{' ? '}' : ']', out, oom, end);
    }
    if (ch == '"' || ch == '\'') {
        return py_string(c, at, out, oom, end);
    }
    if (ch == '-' || (ch >= '0' && ch <= '9')) {
        return v_number(c, at, out, oom, end);
    }
    return v_word(c, at, words, 12, out, oom, end);
}

/* Appends the value `v` (JSON text from a converter) to `call`'s arguments as member `key`, when it is valid JSON. */
static bool add_member(pctx *c, tc_call *call, const char *key, size_t key_n, const llamac__dynbuf *v) {
    json_error_t err;
    json_t *j = json_loadb(llamac__dynbuf_ptr(v), llamac__dynbuf_len(v), JSON_DECODE_ANY, &err);
    if (!j) {
        return false;
    }
    json_decref(j);
    if (call->args.len > 1) {
        tc_buf_add(&call->args, ", ", 2, &c->m->oom);
    }
    tc_json_quote(&call->args, key, key_n, &c->m->oom);
    tc_buf_add(&call->args, ": ", 2, &c->m->oom);
    tc_buf_add(&call->args, llamac__dynbuf_ptr(v), llamac__dynbuf_len(v), &c->m->oom);
    return true;
}

/* The arguments of `call` (opened as "{"), one member at a time, at c->pos: Gemma 4's {key:value,...} up to and
 * including '}', or LFM2's key=value, ... up to and including ')'. Each member is written once complete; where the
 * text goes wrong (or a final text ends) the arguments close after the last complete member and c->pos is where
 * content resumes. */
static int native_args(pctx *c, tc_call *call, bool gemma) {
    char close = gemma ? '}' : ')';
    size_t i = gemma ? c->pos + 1 : c->pos, resume = i;
    llamac__dynbuf v = LLAMAC__DYNBUF(TC_BUF_MAX);
    int r = V_OK;
    i = ws_at(c, i);
    for (bool first = true; r == V_OK; first = false) {
        if (i == c->n) {
            r = v_ended(c);
            break;
        }
        if (first && c->t[i] == close) {
            resume = i + 1;
            break;
        }
        size_t k = i;
        if (gemma) {
            while (i < c->n && i - k <= KEY_MAX_LEN && c->t[i] != ':' && c->t[i] != '}') {
                i++;
            }
        } else {
            while (i < c->n && i - k <= KEY_MAX_LEN && name_char(c->t[i]) && c->t[i] != '.' && c->t[i] != '-') {
                i++;
            }
        }
        if (i == c->n && i - k <= KEY_MAX_LEN) {
            r = v_ended(c);
            break;
        }
        if (i == k || i - k > KEY_MAX_LEN || c->t[i] != (gemma ? ':' : '=')) {
            r = V_BAD;
            break;
        }
        size_t key_end = i, e;
        i = gemma ? ws_at(c, i + 1) : i + 1;
        llamac__dynbuf_reset(&v);
        r = gemma ? g4_value(c, i, 1, &v, &c->m->oom, &e) : py_value(c, i, 1, &v, &c->m->oom, &e);
        if (r != V_OK) {
            size_t str = gemma ? i + strlen(G4_QUOTE) : i + 1;
            bool quoted = gemma ? starts(c, i, G4_QUOTE) > 0 : i < c->n && (c->t[i] == '"' || c->t[i] == '\'');
            if (c->final && quoted &&
                (gemma ? find(c, str, G4_QUOTE) == SIZE_MAX : !memchr(c->t + str, c->t[i], c->n - str))) {
                /* the reply ends inside a string value (max_tokens): the value is what was written */
                llamac__dynbuf_reset(&v);
                tc_json_quote(&v, c->t + str, c->n - str, &c->m->oom);
                r = add_member(c, call, c->t + k, key_end - k, &v) ? V_OK : V_BAD;
                resume = c->n;
            }
            break;
        }
        /* after a member: "," and white space, or white space and the closing character */
        bool comma = e < c->n && c->t[e] == ',';
        i = ws_at(c, comma ? e + 1 : e);
        if (i == c->n) {
            r = v_ended(c);
            break;
        }
        if (!comma && c->t[i] != close) {
            r = V_BAD;
            break;
        }
        if (!add_member(c, call, c->t + k, key_end - k, &v)) {
            r = V_BAD;
            break;
        }
        resume = comma ? i : i + 1;
        if (!comma) {
            break;
        }
    }
    llamac__dynbuf_free(&v);
    if (r == V_MORE) {
        return R_STOP;
    }
    tc_buf_add(&call->args, "}", 1, &c->m->oom);
    c->pos = resume;
    return r == V_OK ? R_DONE : R_BROKEN;
}

/* A call in a native notation at `name`: the tool's name, then its arguments as native_args reads them (Gemma 4's
 * {key:value,...}, LFM2's (key=value, ...)). */
static int native_call(pctx *c, size_t name, bool gemma) {
    size_t i = name;
    while (i < c->n && i - name <= NAME_MAX_LEN && name_char(c->t[i])) {
        i++;
    }
    if (i == c->n) {
        return c->final || i - name > NAME_MAX_LEN ? R_NOT : R_STOP;
    }
    if (i == name || i - name > NAME_MAX_LEN || c->t[i] != (gemma ? '{' : '(')) {
        return R_NOT;
    }
    tc_call *call = call_with(c, c->t + name, i - name, "{", 1);
    if (!call) {
        return R_STOP;
    }
    c->pos = gemma ? i : i + 1;
    return native_args(c, call, gemma);
}

/* ---- Gemma 4: <|tool_call>call:f{key:<|"|>text<|"|>,n:2}<tool_call|>, calls one after another ---- */

#define G4_CALL "<|tool_call>"
#define G4_CALL_END "<tool_call|>"

/* One call after its marker: call:<name>{arguments}<tool_call|>. */
static int gemma4_call(pctx *c) {
    int r = starts(c, c->pos, "call:");
    if (r <= 0) {
        return r < 0 ? R_STOP : R_NOT;
    }
    r = native_call(c, c->pos + strlen("call:"), true);
    if (r != R_DONE) {
        return r;
    }
    r = starts(c, c->pos, G4_CALL_END);
    if (r < 0) {
        return R_STOP;
    }
    if (r == 0 && !(c->final && c->pos == c->n)) {
        return R_BROKEN; /* the rest is content */
    }
    c->pos += r > 0 ? strlen(G4_CALL_END) : 0;
    return R_DONE;
}

/* Gemma 4's thinking at the start: <|channel>thought, white space, reasoning up to <channel|>. False: stop. */
static bool gemma4_thought(pctx *c) {
    static const char *const closers[] = { "<channel|>" };
    if (c->p->reasoning == LLAMAC_REASONING_NONE || c->p->reasoning_open) {
        return think_block(c, "<|channel>thought\n", "<channel|>");
    }
    int s = starts(c, c->pos, "<|channel>thought");
    if (s <= 0) {
        return s == 0;
    }
    size_t w = ws_at(c, c->pos + strlen("<|channel>thought"));
    if (w == c->n && !c->final) {
        return false;
    }
    c->pos = w;
    if (scan_until(c, closers, 1, true) < 0) {
        return false; /* final: unclosed thinking is all reasoning */
    }
    c->pos += strlen(closers[0]);
    return true;
}

static void parse_gemma4(pctx *c) {
    static const char *const markers[] = { G4_CALL };
    if (!gemma4_thought(c)) {
        return;
    }
    for (;;) {
        if (scan_until(c, markers, 1, false) < 0) {
            return;
        }
        size_t start = c->pos;
        c->pos += strlen(G4_CALL);
        if (!after_call(c, gemma4_call(c), start)) {
            return;
        }
    }
}

/* ---- LFM2 / LFM2.5: <|tool_call_start|>[f(key="text", n=2), g()]<|tool_call_end|> ---- */

#define LFM2_CALL "<|tool_call_start|>"
#define LFM2_CALL_END "<|tool_call_end|>"

/* One call of the list at `at`: <name>(arguments). */
static int lfm2_call(pctx *c, size_t at, const void *unused, size_t *end) {
    (void)unused;
    int r = native_call(c, at, false);
    *end = c->pos;
    return r;
}

static void parse_lfm2(pctx *c) {
    if (think_block(c, "<think>", "</think>")) {
        list_sections(c, LFM2_CALL, LFM2_CALL_END, lfm2_call, NULL, LIST_STRICT);
    }
}

/* ---- Apertus: <|tools_prefix|>[{"f": {...}}, {"g": {...}}]<|tools_suffix|> ---- */

#define APERTUS_CALLS "<|tools_prefix|>"
#define APERTUS_CALLS_END "<|tools_suffix|>"

/* One call of the list at `at`: an object whose one member is named after the tool and holds the arguments. */
static int keyed_call(pctx *c, size_t at, const void *unused, size_t *end) {
    (void)unused;
    if (at >= c->n) {
        return c->final ? R_NOT : R_STOP;
    }
    if (c->t[at] != '{') {
        return R_NOT;
    }
    size_t i = ws_at(c, at + 1), e, safe;
    char closers[TC_JSON_MAX_DEPTH + 2], name[NAME_MAX_LEN];
    size_t name_n = 0;
    if (i == c->n) {
        return c->final ? R_NOT : R_STOP;
    }
    if (c->t[i] != '"') {
        return R_NOT;
    }
    int r = tc_json_scan(c->t + i, c->n - i, &e, &safe, closers);
    if (r != TC_JSON_COMPLETE) {
        return r == TC_JSON_PARTIAL && !c->final && c->n - i <= NAME_MAX_LEN + 2 ? R_STOP : R_NOT;
    }
    if (!decode_name(c->t + i, e, name, &name_n)) {
        return R_NOT;
    }
    i = ws_at(c, i + e);
    if (i == c->n) {
        return c->final ? R_NOT : R_STOP;
    }
    if (c->t[i] != ':') {
        return R_NOT;
    }
    i = ws_at(c, i + 1);
    r = args_object(c, i, name, name_n, end);
    if (r != R_DONE) {
        return r;
    }
    i = ws_at(c, *end);
    if (i == c->n && !c->final) {
        return R_STOP;
    }
    if (i < c->n && c->t[i] != '}') {
        c->pos = *end;
        return R_BROKEN;
    }
    *end = i < c->n ? i + 1 : i;
    return R_DONE;
}

static void parse_apertus(pctx *c) {
    if (think_block(c, "<think>", "</think>")) {
        list_sections(c, APERTUS_CALLS, APERTUS_CALLS_END, keyed_call, NULL, LIST_STRICT | LIST_CUT_CLOSE);
    }
}

static void parse_plain(pctx *c) {
    static const char *const kimi_calls[] = { KIMI_SECTION, KIMI_CALL };
    if (c->p->format == LLAMAC_TOOL_FORMAT_KIMI_K3) {
        parse_kimi_k3(c); /* its sections are read with or without tools */
        return;
    }
    if (c->p->format == LLAMAC_TOOL_FORMAT_MINICPM5) {
        parse_minicpm5(c); /* so is the white space around its thinking */
        return;
    }
    if (c->p->format == LLAMAC_TOOL_FORMAT_MINIMAX_M3) {
        if (m3_think(c)) { /* its thinking block as with tools */
            rest_content(c, c->pos);
        }
        return;
    }
    if (c->p->format == LLAMAC_TOOL_FORMAT_SOLAR_OPEN) {
        parse_solar_open(c); /* its messages are read by their markers with or without tools */
        return;
    }
    if (c->p->format == LLAMAC_TOOL_FORMAT_MUSE) {
        parse_muse(c); /* so are Muse's */
        return;
    }
    if (c->p->format == LLAMAC_TOOL_FORMAT_KIMI_K2) {
        /* Kimi K2's call markers end its thinking even without tools */
        if (think_until_call(c, kimi_calls, 2)) {
            rest_content(c, c->pos);
        }
        return;
    }
    if (c->p->format == LLAMAC_TOOL_FORMAT_GEMMA4 ? gemma4_thought(c) : think_block(c, "<think>", "</think>")) {
        rest_content(c, c->pos);
    }
}

/* Reasoning that is only white space is none (llama.cpp drops it, e.g. an empty <think>\n\n</think>); while the
 * text may go on it is held back, so that what was written never changes. */
static void drop_blank_reasoning(tc_msg *m) {
    for (size_t i = 0; i < m->reasoning.len; i++) {
        if (!is_space(m->reasoning.p[i])) {
            return;
        }
    }
    llamac__dynbuf_reset(&m->reasoning);
}

static void parse_format(pctx *c) {
    const llamac_tool_parse_params *p = c->p;
    if (p->lead && (!p->reasoning_open || p->reasoning == LLAMAC_REASONING_NONE) &&
        p->format != LLAMAC_TOOL_FORMAT_MINICPM5) { /* (MiniCPM5's reader places it itself) */
        tc_buf_add(&c->m->content, p->lead, strlen(p->lead), &c->m->oom);
    }
    if (!p->parse_tool_calls) {
        parse_plain(c);
        return;
    }
    switch (p->format) {
    case LLAMAC_TOOL_FORMAT_HERMES: parse_hermes(c); break;
    case LLAMAC_TOOL_FORMAT_LLAMA3: parse_llama3(c); break;
    case LLAMAC_TOOL_FORMAT_MISTRAL:
    case LLAMAC_TOOL_FORMAT_MISTRAL_ARGS: parse_mistral(c); break;
    case LLAMAC_TOOL_FORMAT_QWEN3_CODER: parse_qwen3_coder(c, "<tool_call>", "</tool_call>"); break;
    case LLAMAC_TOOL_FORMAT_SEED_OSS: parse_qwen3_coder(c, "<seed:tool_call>", "</seed:tool_call>"); break;
    case LLAMAC_TOOL_FORMAT_APRIEL: parse_apriel(c); break;
    case LLAMAC_TOOL_FORMAT_FUNCTIONARY_V3_1: parse_functionary_v3_1(c); break;
    case LLAMAC_TOOL_FORMAT_FIREFUNCTION_V2: parse_firefunction(c); break;
    case LLAMAC_TOOL_FORMAT_DEEPSEEK_R1: parse_deepseek(c, true); break;
    case LLAMAC_TOOL_FORMAT_DEEPSEEK_V3_1: parse_deepseek(c, false); break;
    case LLAMAC_TOOL_FORMAT_FUNCTIONARY_V3_2: parse_functionary(c); break;
    case LLAMAC_TOOL_FORMAT_COMMAND_R7B: parse_command_r7b(c); break;
    case LLAMAC_TOOL_FORMAT_HARMONY: parse_harmony(c); break;
    case LLAMAC_TOOL_FORMAT_GLM: parse_glm(c); break;
    case LLAMAC_TOOL_FORMAT_KIMI_K2: parse_kimi(c); break;
    case LLAMAC_TOOL_FORMAT_MINIMAX_M2: parse_minimax(c); break;
    case LLAMAC_TOOL_FORMAT_DEEPSEEK_V3_2: parse_dsml(c); break;
    case LLAMAC_TOOL_FORMAT_GEMMA4: parse_gemma4(c); break;
    case LLAMAC_TOOL_FORMAT_LFM2: parse_lfm2(c); break;
    case LLAMAC_TOOL_FORMAT_APERTUS: parse_apertus(c); break;
    case LLAMAC_TOOL_FORMAT_KIMI_K3: parse_kimi_k3(c); break;
    case LLAMAC_TOOL_FORMAT_NEMOTRON_V2: parse_nemotron_v2(c); break;
    case LLAMAC_TOOL_FORMAT_GIGACHAT3: parse_gigachat(c); break;
    case LLAMAC_TOOL_FORMAT_MINICPM5: parse_minicpm5(c); break;
    case LLAMAC_TOOL_FORMAT_COMMAND_R_PLUS: parse_command_r_plus(c); break;
    case LLAMAC_TOOL_FORMAT_MINIMAX_M3: parse_minimax_m3(c); break;
    case LLAMAC_TOOL_FORMAT_GIGACHAT3_1: parse_gigachat31(c); break;
    case LLAMAC_TOOL_FORMAT_HY3: parse_hy3(c); break;
    case LLAMAC_TOOL_FORMAT_SOLAR_OPEN: parse_solar_open(c); break;
    case LLAMAC_TOOL_FORMAT_MUSE: parse_muse(c); break;
    case LLAMAC_TOOL_FORMAT_GENERIC:
    default: parse_generic(c); break;
    }
}

void tc_parse(const llamac_tool_parse_params *p, const char *text, size_t len, bool final, tc_msg *m) {
    tc_msg_clear(m);
    pctx c = { .p = p, .t = text, .n = len, .pos = 0, .final = final, .m = m };
    parse_format(&c);
    json_decref(c.tools);
    drop_blank_reasoning(m);
}
