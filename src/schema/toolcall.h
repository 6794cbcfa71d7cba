/*
 * toolcall.h - what the tool-call modules share: the partial message the format parsers fill (in dynbufs), and an
 * incremental JSON scanner.
 *
 * Every format parser is a pure function of (text so far, final?) that fills a message. Called on a prefix of the
 * output it only writes what no later byte can change, so the stream parser is "parse again, send the difference",
 * and the complete parse is the same function with final set: both agree by construction.
 */
#ifndef LLAMAC_SCHEMA_TOOLCALL_H
#define LLAMAC_SCHEMA_TOOLCALL_H

#include "dynbuf.h"
#include "llamac.h"

#include <stdbool.h>
#include <stddef.h>

/* The last value of llamac_tool_format. */
#define TC_FORMAT_LAST LLAMAC_TOOL_FORMAT_MUSE

/* The cap of every tool-call buffer: far past any model output (a million tokens are a few MiB of text). */
#define TC_BUF_MAX ((size_t)1 << 30)

/* Appends to one of a message's buffers; a failure (out of memory, or past TC_BUF_MAX) sets *oom, the one flag the
 * message's users check. */
void tc_buf_add(llamac__dynbuf *b, const char *s, size_t n, bool *oom);

/* Appends GBNF rules <prefix>-0 .. <prefix>-(n-1) for any text that does not contain `marker` (NUL-terminated
 * UTF-8 of at most TC_EXCLUDE_MAX code points; "" matches any text); reference <prefix>-0. Returns false when the
 * marker is not valid UTF-8 or too long (nothing appended). */
#define TC_EXCLUDE_MAX 64
bool tc_gbnf_excluding(llamac__dynbuf *g, const char *prefix, const char *marker);

typedef struct tc_call {
    llamac__dynbuf name;
    llamac__dynbuf args;
} tc_call;

/* A message; set it up with tc_msg_init. */
typedef struct tc_msg {
    llamac__dynbuf content;
    llamac__dynbuf reasoning;
    tc_call *calls;
    size_t n_calls, cap_calls;
    bool oom;
} tc_msg;

void tc_msg_clear(tc_msg *m);
void tc_msg_init(tc_msg *m);
void tc_msg_free(tc_msg *m);
/* Adds a call named (name, n) with empty arguments; returns it, or NULL when out of memory. */
tc_call *tc_msg_add_call(tc_msg *m, const char *name, size_t n);

/* Fills `m` (cleared first) from text[0, len). With final false the text may continue; only what no continuation
 * can change is written. */
void tc_parse(const llamac_tool_parse_params *p, const char *text, size_t len, bool final, tc_msg *m);

/* ---- the JSON scanner (toolcall_json.c) ---- */

enum { TC_JSON_COMPLETE, TC_JSON_PARTIAL, TC_JSON_INVALID };

#define TC_JSON_MAX_DEPTH 64

/* Scans one JSON value at s[0] (no leading whitespace). COMPLETE: *end is the length of the value. PARTIAL: the
 * text ends inside it. INVALID: a byte that no JSON can have (*end is its offset). In every case *safe is the
 * length of the longest prefix that the bytes in `closers` (NUL-terminated, at most TC_JSON_MAX_DEPTH + 1 long)
 * turn into a valid JSON value whose members are all complete; *safe is 0 when no such prefix exists yet. */
int tc_json_scan(const char *s, size_t n, size_t *end, size_t *safe, char *closers);

/* Appends (s, n) as a JSON string literal; bytes that are not UTF-8 become U+FFFD. */
void tc_json_quote(llamac__dynbuf *b, const char *s, size_t n, bool *oom);

/* Length of the JSON whitespace at s[0, n). */
size_t tc_json_ws(const char *s, size_t n);

/* DeepSeek R1 / V3.1 tool-call markers (full-width bars and U+2581 lower blocks), for the parser and the grammars. */
#define DS_CALLS_BEGIN                                                                                                 \
    "<\xef\xbd\x9ctool\xe2\x96\x81"                                                                                    \
    "calls\xe2\x96\x81"                                                                                                \
    "begin\xef\xbd\x9c>"
#define DS_CALLS_END                                                                                                   \
    "<\xef\xbd\x9ctool\xe2\x96\x81"                                                                                    \
    "calls\xe2\x96\x81"                                                                                                \
    "end\xef\xbd\x9c>"
#define DS_CALL_BEGIN                                                                                                  \
    "<\xef\xbd\x9ctool\xe2\x96\x81"                                                                                    \
    "call\xe2\x96\x81"                                                                                                 \
    "begin\xef\xbd\x9c>"
#define DS_CALL_END                                                                                                    \
    "<\xef\xbd\x9ctool\xe2\x96\x81"                                                                                    \
    "call\xe2\x96\x81"                                                                                                 \
    "end\xef\xbd\x9c>"
#define DS_SEP "<\xef\xbd\x9ctool\xe2\x96\x81sep\xef\xbd\x9c>"

/* DeepSeek V3.2 / V4's markup prefixes, <｜DSML｜ and </｜DSML｜. */
#define DSML                                                                                                           \
    "<\xef\xbd\x9c"                                                                                                    \
    "DSML\xef\xbd\x9c"
#define DSML_CLOSE                                                                                                     \
    "</\xef\xbd\x9c"                                                                                                   \
    "DSML\xef\xbd\x9c"

/* MiniMax M3's namespace token, before each of its tags, for the parser and the grammars. */
#define M3_NS "]<]minimax[>["

/* The JSON types a value of a JSON Schema may have (toolcall_grammar.c), as llama.cpp's chat layer reads a tool's
 * parameter schema: TC_T_* bits; TC_T_ANY alone for a schema that constrains nothing. `root` (the tool's
 * parameters) resolves local references ("#/$defs/X", "#/definitions/X"); a cycle or a reference elsewhere adds
 * no type. Borrowed; never fails. */
enum {
    TC_T_STRING = 1,
    TC_T_INTEGER = 2,
    TC_T_NUMBER = 4,
    TC_T_BOOLEAN = 8,
    TC_T_NULL = 16,
    TC_T_OBJECT = 32,
    TC_T_ARRAY = 64,
    TC_T_ANY = 128
};
struct json_t;
unsigned tc_schema_types(struct json_t *root, struct json_t *schema);

/* llamac_tool_history_check on a parsed messages array (borrowed): the chat layer checks the conversation it renders
 * without printing and parsing it again. */
llamac_status llamac__tool_history_check_json(struct json_t *messages);

#endif /* LLAMAC_SCHEMA_TOOLCALL_H */
