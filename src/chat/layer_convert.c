/*
 * layer_convert.c - a request's messages and tools in the shape llama-server gives them to a template.
 *
 * llama-server does not pass messages through: it checks them (tools/server/server-common.cpp), reads them into its
 * own message type and writes them out again (common/chat.cpp), so every template sees the same keys in the same
 * order whatever the client sent: role, content (never null: "" instead), reasoning_content, name, tool_call_id,
 * tool_calls (type, function {name, arguments as JSON text}, id). Then it adapts them to the template: content parts
 * joined into a string or a string made a text part, the developer role mapped to system, a system message folded
 * into the next one, argument strings parsed into objects. This file does the same, in the same order, and refuses
 * what llama-server refuses, naming the message.
 */
#include "chat/layer.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- small helpers ---- */

char *layer_trim(const char *s, size_t n) {
    size_t a = 0;
    while (a < n && isspace((unsigned char)s[a])) {
        a++;
    }
    while (n > a && isspace((unsigned char)s[n - 1])) {
        n--;
    }
    return llamac__strndup(s + a, n - a);
}

bool layer_has(const char *hay, size_t len, const char *needle) {
    size_t n = strlen(needle);
    if (n == 0 || n > len) {
        return n == 0;
    }
    for (size_t i = 0; i + n <= len; i++) {
        if (hay[i] == needle[0] && memcmp(hay + i, needle, n) == 0) {
            return true;
        }
    }
    return false;
}

/* ---- JSON text as llama.cpp writes it ---- */

static void dump_string(llamac__dynbuf *b, const char *s, size_t n) {
    llamac__dynbuf_add(b, "\"", 1);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        char esc[8];
        switch (c) {
        case '"': llamac__dynbuf_add(b, "\\\"", 2); break;
        case '\\': llamac__dynbuf_add(b, "\\\\", 2); break;
        case '\b': llamac__dynbuf_add(b, "\\b", 2); break;
        case '\f': llamac__dynbuf_add(b, "\\f", 2); break;
        case '\n': llamac__dynbuf_add(b, "\\n", 2); break;
        case '\r': llamac__dynbuf_add(b, "\\r", 2); break;
        case '\t': llamac__dynbuf_add(b, "\\t", 2); break;
        default:
            if (c < 0x20) {
                snprintf(esc, sizeof esc, "\\u%04x", c);
                llamac__dynbuf_adds(b, esc);
            } else {
                llamac__dynbuf_add(b, s + i, 1);
            }
        }
    }
    llamac__dynbuf_add(b, "\"", 1);
}

/* The shortest decimal that reads back as d, with ".0" when it looks like an integer (as nlohmann's dump). */
static void dump_real(llamac__dynbuf *b, double d) {
    if (!isfinite(d)) {
        llamac__dynbuf_adds(b, "null");
        return;
    }
    char buf[40];
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(buf, sizeof buf, "%.*g", prec, d);
        if (strtod(buf, NULL) == d) {
            break;
        }
    }
    llamac__dynbuf_adds(b, buf);
    if (!strpbrk(buf, ".eEn")) {
        llamac__dynbuf_adds(b, ".0");
    }
}

static void dump(llamac__dynbuf *b, json_t *j, int depth) {
    char num[32];
    if (depth > 256) {
        llamac__dynbuf_fail(b, LLAMAC__DYNBUF_TOO_BIG);
        return;
    }
    switch (json_typeof(j)) {
    case JSON_NULL: llamac__dynbuf_adds(b, "null"); break;
    case JSON_TRUE: llamac__dynbuf_adds(b, "true"); break;
    case JSON_FALSE: llamac__dynbuf_adds(b, "false"); break;
    case JSON_INTEGER:
        snprintf(num, sizeof num, "%lld", (long long)json_integer_value(j));
        llamac__dynbuf_adds(b, num);
        break;
    case JSON_REAL: dump_real(b, json_real_value(j)); break;
    case JSON_STRING: dump_string(b, json_string_value(j), json_string_length(j)); break;
    case JSON_ARRAY: {
        size_t i;
        json_t *item;
        llamac__dynbuf_add(b, "[", 1);
        json_array_foreach(j, i, item) {
            if (i) {
                llamac__dynbuf_add(b, ",", 1);
            }
            dump(b, item, depth + 1);
        }
        llamac__dynbuf_add(b, "]", 1);
        break;
    }
    case JSON_OBJECT: {
        const char *key;
        json_t *item;
        bool first = true;
        llamac__dynbuf_add(b, "{", 1);
        json_object_foreach(j, key, item) {
            if (!first) {
                llamac__dynbuf_add(b, ",", 1);
            }
            first = false;
            dump_string(b, key, strlen(key));
            llamac__dynbuf_add(b, ":", 1);
            dump(b, item, depth + 1);
        }
        llamac__dynbuf_add(b, "}", 1);
        break;
    }
    }
}

char *layer_dump(json_t *j) {
    llamac__dynbuf b = LLAMAC__DYNBUF(LAYER_TEXT_MAX);
    dump(&b, j, 0);
    return llamac__dynbuf_take(&b, NULL);
}

/* ---- checks ---- */

static llamac_status bad(size_t i, const char *fmt, const char *detail) {
    return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "messages[%zu]: %s%s", i, fmt, detail ? detail : "");
}

/* What llama-server checks before it reads the messages (oaicompat_chat_params_parse). */
static llamac_status check_message(size_t i, json_t *m) {
    if (!json_is_object(m)) {
        return bad(i, "a message must be a JSON object", NULL);
    }
    json_t *role = json_object_get(m, "role");
    const char *r = json_is_string(role) ? json_string_value(role) : "";
    json_t *content = json_object_get(m, "content");
    bool assistant = strcmp(r, "assistant") == 0;
    if (!assistant && !content) {
        return bad(i, "all non-assistant messages must contain 'content'", NULL);
    }
    if (assistant && !content && !json_object_get(m, "tool_calls")) {
        return bad(i, "an assistant message must contain either 'content' or 'tool_calls'", NULL);
    }
    if (!content || json_is_string(content) || json_is_null(content)) {
        return LLAMAC_OK;
    }
    if (!json_is_array(content)) {
        return bad(i, "'content' must be a string or an array of content parts", NULL);
    }
    size_t k;
    json_t *part;
    json_array_foreach(content, k, part) {
        json_t *t = json_object_get(part, "type");
        const char *type = json_is_string(t) ? json_string_value(t) : "";
        if (strcmp(type, "image_url") == 0 || strcmp(type, "input_audio") == 0 || strcmp(type, "input_video") == 0 ||
            strcmp(type, "video_url") == 0) {
            return llamac__fail(LLAMAC_E_UNSUPPORTED,
                                "messages[%zu].content[%zu]: %s input is not supported by this model/build (only "
                                "\"text\" content parts are)",
                                i, k, type);
        }
        if (strcmp(type, "text") != 0) {
            return llamac__fail(LLAMAC_E_INVALID_ARGUMENT,
                                "messages[%zu].content[%zu]: unsupported content part type \"%.64s\"", i, k, type);
        }
        if (!json_is_string(json_object_get(part, "text"))) {
            return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "messages[%zu].content[%zu]: 'text' must be a string", i, k);
        }
    }
    return LLAMAC_OK;
}

/* A string member: absent is fine (*out NULL); anything but a string is refused. */
static llamac_status string_member(size_t i, json_t *m, const char *key, const char **out) {
    json_t *v = json_object_get(m, key);
    *out = NULL;
    if (!v) {
        return LLAMAC_OK;
    }
    if (!json_is_string(v)) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "messages[%zu]: '%s' must be a string", i, key);
    }
    *out = json_string_value(v);
    return LLAMAC_OK;
}

/* s, trimmed when `trim` (StepFun), as a JSON string; NULL when out of memory. */
static json_t *text_value(const char *s, size_t n, bool trim) {
    if (!trim) {
        return json_stringn(s, n);
    }
    char *t = layer_trim(s, n);
    json_t *v = t ? json_string(t) : NULL;
    free(t);
    return v;
}

static bool empty_text(json_t *s) {
    return !s || json_string_length(s) == 0;
}

/* One tool call in llama-server's shape; arguments as JSON text (an object given is written out), parsed back into
 * a value when the template reads arguments as objects. */
static llamac_status convert_call(size_t i, size_t k, json_t *tc, bool parse_args, json_t **out) {
    *out = NULL;
    json_t *type = json_object_get(tc, "type");
    if (!json_is_object(tc) || !type) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "messages[%zu].tool_calls[%zu]: missing 'type'", i, k);
    }
    if (!json_is_string(type) || strcmp(json_string_value(type), "function") != 0) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT,
                            "messages[%zu].tool_calls[%zu]: unsupported tool call type (only \"function\")", i, k);
    }
    json_t *fn = json_object_get(tc, "function");
    if (!json_is_object(fn)) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "messages[%zu].tool_calls[%zu]: missing 'function'", i, k);
    }
    json_t *name = json_object_get(fn, "name");
    json_t *args = json_object_get(fn, "arguments");
    json_t *id = json_object_get(tc, "id");
    if (!json_is_string(name)) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "messages[%zu].tool_calls[%zu].function: %s", i, k,
                            name ? "'name' must be a string" : "missing 'name'");
    }
    if (!args) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "messages[%zu].tool_calls[%zu].function: missing 'arguments'", i,
                            k);
    }
    if (id && !json_is_string(id)) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "messages[%zu].tool_calls[%zu]: 'id' must be a string", i, k);
    }
    json_t *text = NULL;
    if (json_is_string(args)) {
        text = json_incref(args);
    } else {
        char *d = layer_dump(args);
        text = d ? json_string(d) : NULL;
        free(d);
    }
    json_t *value = text;
    if (text && parse_args) {
        json_error_t err;
        value = json_loadb(json_string_value(text), json_string_length(text), JSON_DECODE_ANY, &err);
        json_decref(text);
        if (!value) {
            return llamac__fail(LLAMAC_E_INVALID_ARGUMENT,
                                "messages[%zu].tool_calls[%zu].function.arguments is not valid JSON (%s, at character "
                                "%d)",
                                i, k, err.text, err.position);
        }
    }
    json_t *call =
        value ? json_pack("{s:s, s:{s:O, s:o}}", "type", "function", "function", "name", name, "arguments", value)
              : NULL;
    if (call && id && json_string_length(id) > 0 && json_object_set(call, "id", id) != 0) {
        json_decref(call);
        call = NULL;
    }
    if (!call) {
        return LLAMAC_E_NO_MEMORY;
    }
    *out = call;
    return LLAMAC_OK;
}

/* One message in llama-server's shape (common_chat_msg::to_json_oaicompat). */
static llamac_status convert_message(const layer_info *info, size_t i, json_t *m, json_t **out) {
    *out = NULL;
    bool trim = info->trim_content;
    json_t *role = json_object_get(m, "role");
    if (!role) {
        return bad(i, "missing 'role'", NULL);
    }
    if (!json_is_string(role)) {
        return bad(i, "'role' must be a string", NULL);
    }
    const char *reasoning, *name, *call_id;
    llamac_status st;
    if ((st = string_member(i, m, "reasoning_content", &reasoning)) != LLAMAC_OK ||
        (st = string_member(i, m, "name", &name)) != LLAMAC_OK ||
        (st = string_member(i, m, "tool_call_id", &call_id)) != LLAMAC_OK) {
        return st;
    }
    json_t *tool_calls = json_object_get(m, "tool_calls");
    if (tool_calls && !json_is_array(tool_calls) && !json_is_null(tool_calls)) {
        return bad(i, "'tool_calls' must be an array", NULL);
    }
    json_t *msg = json_object();
    json_t *content = json_object_get(m, "content");
    json_t *value = NULL;
    if (json_is_string(content) && json_string_length(content) > 0) {
        value = text_value(json_string_value(content), json_string_length(content), trim);
    }
    if ((!value || empty_text(value)) && json_is_array(content) && json_array_size(content) > 0) {
        json_decref(value);
        value = json_array();
        size_t k;
        json_t *part;
        json_array_foreach(content, k, part) {
            json_t *t = json_object_get(part, "text");
            json_array_append_new(value, json_pack("{s:s, s:o}", "type", "text", "text",
                                                   text_value(json_string_value(t), json_string_length(t), trim)));
        }
    }
    if (!value) {
        value = json_string("");
    }
    bool ok = msg && json_object_set(msg, "role", role) == 0;
    if (ok) {
        ok = json_object_set_new(msg, "content", value) == 0; /* takes value, even when it fails */
    } else {
        json_decref(value);
    }
    if (ok && reasoning && reasoning[0]) {
        json_t *r = text_value(reasoning, strlen(reasoning), trim);
        ok = !empty_text(r) ? json_object_set_new(msg, "reasoning_content", r) == 0 : (json_decref(r), r != NULL);
    }
    if (ok && name && name[0]) {
        ok = json_object_set_new(msg, "name", json_string(name)) == 0;
    }
    if (ok && call_id && call_id[0]) {
        ok = json_object_set_new(msg, "tool_call_id", json_string(call_id)) == 0;
    }
    if (ok && json_array_size(tool_calls) > 0) {
        json_t *calls = json_array();
        ok = calls && json_object_set_new(msg, "tool_calls", calls) == 0;
        size_t k;
        json_t *tc;
        json_array_foreach(tool_calls, k, tc) {
            json_t *call = NULL;
            st = convert_call(i, k, tc, info->caps.object_arguments, &call);
            if (st != LLAMAC_OK) {
                json_decref(msg);
                return st;
            }
            if (!ok || json_array_append_new(calls, call) != 0) {
                ok = false;
                break;
            }
        }
    }
    if (!ok) {
        json_decref(msg);
        return LLAMAC_E_NO_MEMORY;
    }
    *out = msg;
    return LLAMAC_OK;
}

/* Text parts joined as llama.cpp joins them: `sep` between texts, none before the first non-empty text. */
static char *join_parts(json_t *parts, const char *sep) {
    llamac__dynbuf b = LLAMAC__DYNBUF(LAYER_TEXT_MAX);
    size_t k;
    json_t *part;
    json_array_foreach(parts, k, part) {
        json_t *t = json_object_get(part, "text");
        if (llamac__dynbuf_len(&b) > 0) {
            llamac__dynbuf_adds(&b, sep);
        }
        llamac__dynbuf_add(&b, json_string_value(t) ? json_string_value(t) : "", json_string_length(t));
    }
    return llamac__dynbuf_take(&b, NULL);
}

json_t *layer_normalize(const llamac__caps *caps, json_t *messages) {
    bool only_string = caps->string_content && !caps->typed_content;
    bool only_typed = !caps->string_content && caps->typed_content;
    json_t *out = json_array();
    size_t i;
    json_t *m;
    json_array_foreach(messages, i, m) {
        json_t *copy = json_copy(m);
        json_t *content = json_object_get(copy, "content");
        bool ok = copy != NULL;
        if (ok && only_typed && json_is_string(content)) {
            ok = json_object_set_new(copy, "content", json_pack("[{s:s, s:O}]", "type", "text", "text", content)) == 0;
        } else if (ok && only_string && json_is_array(content)) {
            char *text = join_parts(content, "\n");
            ok = text && json_object_set_new(copy, "content", json_string(text)) == 0;
            free(text);
        }
        if (!ok) {
            json_decref(copy);
        }
        if (!ok || json_array_append_new(out, copy) != 0) {
            json_decref(out);
            return NULL;
        }
    }
    return out;
}

llamac_status layer_messages(const layer_info *info, json_t *messages, json_t **out) {
    *out = NULL;
    if (!json_is_array(messages)) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "'messages' must be an array of messages");
    }
    size_t i;
    json_t *m;
    llamac_status st;
    json_array_foreach(messages, i, m) {
        if ((st = check_message(i, m)) != LLAMAC_OK) {
            return st;
        }
    }
    json_t *canon = json_array();
    if (!canon) {
        return LLAMAC_E_NO_MEMORY;
    }
    json_array_foreach(messages, i, m) {
        json_t *msg = NULL;
        if ((st = convert_message(info, i, m, &msg)) != LLAMAC_OK) {
            json_decref(canon);
            return st;
        }
        if (json_array_append_new(canon, msg) != 0) {
            json_decref(canon);
            return LLAMAC_E_NO_MEMORY;
        }
    }
    *out = layer_normalize(&info->caps, canon);
    json_decref(canon);
    return *out ? LLAMAC_OK : LLAMAC_E_NO_MEMORY;
}

void layer_continued_free(layer_continued *c) {
    free(c->content);
    free(c->parts_text);
    free(c->reasoning);
    memset(c, 0, sizeof *c);
}

llamac_status layer_continued_of(json_t *messages, layer_continued *out) {
    memset(out, 0, sizeof *out);
    size_t n = json_array_size(messages);
    if (n == 0) {
        return LLAMAC_OK;
    }
    json_t *m = json_array_get(messages, n - 1);
    json_t *content = json_object_get(m, "content");
    json_t *reasoning = json_object_get(m, "reasoning_content");
    json_t *calls = json_object_get(m, "tool_calls");
    out->role = json_string_value(json_object_get(m, "role"));
    out->content = llamac__strndup(json_is_string(content) ? json_string_value(content) : "",
                                   json_is_string(content) ? json_string_length(content) : 0);
    out->has_parts = json_is_array(content) && json_array_size(content) > 0;
    out->parts_text = out->has_parts ? join_parts(content, "\n\n") : llamac__strndup("", 0);
    out->reasoning = llamac__strndup(json_is_string(reasoning) ? json_string_value(reasoning) : "",
                                     json_is_string(reasoning) ? json_string_length(reasoning) : 0);
    out->has_tool_calls = json_array_size(calls) > 0;
    if (!out->content || !out->parts_text || !out->reasoning) {
        layer_continued_free(out);
        return LLAMAC_E_NO_MEMORY;
    }
    json_t *name = json_object_get(m, "name");
    json_t *id = json_object_get(m, "tool_call_id");
    out->present = out->content[0] || out->has_parts || out->has_tool_calls || out->reasoning[0] ||
                   json_string_length(name) > 0 || json_string_length(id) > 0;
    return LLAMAC_OK;
}

/* ---- tools ---- */

static llamac_status bad_tool(size_t i, const char *what) {
    return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "tools[%zu]: %s", i, what);
}

llamac_status layer_tools(json_t *tools, json_t **out) {
    *out = NULL;
    if (!tools || json_is_null(tools)) {
        return LLAMAC_OK;
    }
    if (!json_is_array(tools)) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "'tools' must be an array of tools");
    }
    if (json_array_size(tools) == 0) {
        return LLAMAC_OK;
    }
    json_t *list = json_array();
    size_t i;
    json_t *t;
    json_array_foreach(tools, i, t) {
        json_t *type = json_object_get(t, "type");
        json_t *fn = json_object_get(t, "function");
        llamac_status st = LLAMAC_OK;
        if (!type) {
            st = bad_tool(i, "missing 'type'");
        } else if (!json_is_string(type) || strcmp(json_string_value(type), "function") != 0) {
            st = bad_tool(i, "unsupported tool type (only \"function\")");
        } else if (!fn) {
            st = bad_tool(i, "missing 'function'");
        } else if (!json_is_string(json_object_get(fn, "name"))) {
            st = bad_tool(i,
                          json_object_get(fn, "name") ? "'function.name' must be a string" : "missing 'function.name'");
        } else if (json_object_get(fn, "description") && !json_is_string(json_object_get(fn, "description"))) {
            st = bad_tool(i, "'function.description' must be a string");
        }
        if (st != LLAMAC_OK) {
            json_decref(list);
            return st;
        }
        json_t *desc = json_object_get(fn, "description");
        json_t *params = json_object_get(fn, "parameters");
        json_t *tool = json_pack("{s:s, s:{s:O, s:o, s:o}}", "type", "function", "function", "name",
                                 json_object_get(fn, "name"), "description", desc ? json_incref(desc) : json_string(""),
                                 "parameters", params ? json_deep_copy(params) : json_object());
        if (!list || !tool || json_array_append_new(list, tool) != 0) {
            json_decref(list);
            return LLAMAC_E_NO_MEMORY;
        }
    }
    *out = list;
    return LLAMAC_OK;
}

/* ---- adaptations ---- */

llamac_status layer_adapt(const layer_info *info, json_t *messages) {
    size_t i;
    json_t *m;
    if (!info->developer_stays) {
        json_array_foreach(messages, i, m) {
            json_t *role = json_object_get(m, "role");
            if (json_is_string(role) && strcmp(json_string_value(role), "developer") == 0) {
                json_object_set_new(m, "role", json_string("system"));
            }
        }
    }
    json_t *first = json_array_get(messages, 0);
    json_t *role = json_object_get(first, "role");
    if (!info->caps.system_role && json_is_string(role) && strcmp(json_string_value(role), "system") == 0) {
        /* no system role: the system message goes before the next message's text, or is dropped */
        json_t *second = json_array_get(messages, 1);
        if (second) {
            json_t *a = json_object_get(first, "content"), *b = json_object_get(second, "content");
            if (!json_is_string(a) || !json_is_string(b)) {
                return llamac__fail(LLAMAC_E_INVALID_ARGUMENT,
                                    "messages[0]: this template has no system role, and a system message given as "
                                    "content parts cannot be joined to the next message");
            }
            llamac__dynbuf buf = LLAMAC__DYNBUF(LAYER_TEXT_MAX);
            llamac__dynbuf_add(&buf, json_string_value(a), json_string_length(a));
            llamac__dynbuf_add(&buf, "\n", 1);
            llamac__dynbuf_add(&buf, json_string_value(b), json_string_length(b));
            char *text = llamac__dynbuf_take(&buf, NULL);
            json_t *joined = text ? json_stringn(text, strlen(text)) : NULL;
            free(text);
            if (!joined || json_object_set_new(second, "content", joined) != 0) {
                return LLAMAC_E_NO_MEMORY;
            }
        }
        json_array_remove(messages, 0);
    }
    return LLAMAC_OK;
}
