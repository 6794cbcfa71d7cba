/*
 * layer.c - the chat layer: a conversation becomes the prompt llama-server makes of it (llamac_template_apply).
 *
 * The steps are llama-server's, in its order (tools/server/server-common.cpp, then common/chat.cpp): check and
 * reshape the messages (layer_convert.c); a trailing assistant message is continued (prefill) rather than answered;
 * enable_thinking is on where the template has a thinking section unless the request or the kwargs say otherwise;
 * reasoning_effort "none" turns it off; the messages are adapted to the template's capabilities; today's date and
 * the kwargs join the variables; then the template's family decides how messages reach the template (gpt-oss and
 * LFM2 read reasoning as "thinking", Ministral as content blocks, DeepSeek V4 wants tool results in call order, an
 * older Gemma 4 template wants them inside the assistant turn) and how a continued message is appended after the
 * rendered conversation. Finally the BOS text is dropped when the tokenizer adds one itself (and the EOS likewise).
 */
#include "chat/layer.h"
#include "chat/chat_internal.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- one render ---- */

static bool json_true_at(json_t *a, json_t *b, const char *key, bool *value) {
    json_t *v = json_object_get(b, key);
    if (!v) {
        v = json_object_get(a, key);
    }
    if (!json_is_boolean(v)) {
        return false;
    }
    *value = json_is_true(v);
    return true;
}

llamac_status layer_direct_apply(const layer_info *info, const llamac_template *tmpl, const layer_render *r, char **out,
                                 size_t *len) {
    const llamac_template *t = layer_template(info, tmpl);
    *out = NULL;
    json_t *vars = json_object();
    json_t *messages = r->raw ? json_incref(r->messages) : layer_normalize(&info->caps, r->messages);
    llamac_status st = LLAMAC_E_NO_MEMORY;
    bool ok = vars && messages;
    /* llama.cpp sets these on the context first, so that the variables below may replace them */
    bool preserve;
    if (ok && json_true_at(r->extra, r->additional, "preserve_reasoning", &preserve)) {
        ok = json_object_set_new(vars, "preserve_thinking", json_boolean(preserve)) == 0 &&
             json_object_set_new(vars, "clear_thinking", json_boolean(!preserve)) == 0 &&
             json_object_set_new(vars, "truncate_history_thinking", json_boolean(!preserve)) == 0 &&
             json_object_set_new(vars, "drop_thinking", json_boolean(!preserve)) == 0;
    }
    json_t *effort = json_object_get(r->additional, "reasoning_effort");
    if (!effort) {
        effort = json_object_get(r->extra, "reasoning_effort");
    }
    if (ok && json_is_string(effort) && json_string_length(effort) > 0) {
        json_t *v = json_copy(effort); /* one value under both names */
        ok = v && json_object_set(vars, "reasoning_effort", v) == 0 &&
             json_object_set(vars, "reasoning_strength", v) == 0;
        json_decref(v);
    }
    const char *bos = r->bos ? r->bos : llamac__template_bos(t), *eos = r->eos ? r->eos : llamac__template_eos(t);
    if (ok && (!llamac_utf8_valid(bos, strlen(bos), NULL) || !llamac_utf8_valid(eos, strlen(eos), NULL))) {
        st = llamac__fail(LLAMAC_E_UTF8, "the %s token text is not valid UTF-8",
                          llamac_utf8_valid(bos, strlen(bos), NULL) ? "EOS" : "BOS");
        ok = false;
    }
    ok = ok && json_object_set(vars, "messages", messages) == 0 &&
         json_object_set_new(vars, "bos_token", json_string(bos)) == 0 &&
         json_object_set_new(vars, "eos_token", json_string(eos)) == 0 &&
         json_object_set_new(vars, "enable_thinking", json_boolean(r->enable_thinking)) == 0 &&
         (!r->tools || json_object_set(vars, "tools", r->tools) == 0) &&
         (!r->extra || json_object_update(vars, r->extra) == 0) &&
         (!r->additional || json_object_update(vars, r->additional) == 0) &&
         (!r->add_generation_prompt || json_object_set_new(vars, "add_generation_prompt", json_true()) == 0);
    if (ok) {
        llamac__render_opts opts = { r->limits, NULL, 0, NULL };
        size_t n = 0;
        st = llamac__template_render_vars(t, vars, &opts, out, &n);
        if (st == LLAMAC_OK) {
            size_t bn = strlen(bos), en = strlen(eos), skip = 0;
            if (r->strip_bos && bn <= n && memcmp(*out, bos, bn) == 0) {
                skip = bn;
            }
            if (r->strip_eos && en <= n - skip && memcmp(*out + n - en, eos, en) == 0) {
                n -= en;
            }
            memmove(*out, *out + skip, n - skip);
            n -= skip;
            (*out)[n] = '\0';
            if (len) {
                *len = n;
            }
        }
    }
    json_decref(vars);
    json_decref(messages);
    return st;
}

llamac_status layer_generation_prompt(const layer_info *info, const llamac_template *tmpl, const layer_render *r,
                                      char **out) {
    layer_render a = *r, b = *r;
    a.add_generation_prompt = false;
    b.add_generation_prompt = true;
    char *without = NULL, *with = NULL;
    size_t wn = 0, n = 0;
    *out = NULL;
    llamac_status st = layer_direct_apply(info, tmpl, &a, &without, &wn);
    if (st == LLAMAC_OK) {
        st = layer_direct_apply(info, tmpl, &b, &with, &n);
    }
    if (st == LLAMAC_OK) {
        size_t k = 0;
        while (k < wn && k < n && without[k] == with[k]) {
            k++;
        }
        *out = llamac__strndup(with + k, n - k);
        st = *out ? LLAMAC_OK : LLAMAC_E_NO_MEMORY;
    }
    free(without);
    free(with);
    return st;
}

/* ---- the families' messages ---- */

static bool role_is(json_t *m, const char *role) {
    json_t *r = json_object_get(m, "role");
    return json_is_string(r) && strcmp(json_string_value(r), role) == 0;
}

static bool has_calls(json_t *m) {
    return json_array_size(json_object_get(m, "tool_calls")) > 0;
}

/* gpt-oss and LFM2 read an assistant's reasoning as "thinking" (gpt-oss drops the content beside tool calls). */
static json_t *with_thinking(json_t *messages, bool drop_content) {
    json_t *out = json_array();
    size_t i;
    json_t *m;
    json_array_foreach(messages, i, m) {
        json_t *copy = json_copy(m);
        json_t *r = json_object_get(copy, "reasoning_content");
        if (copy && json_is_string(r)) {
            json_object_set(copy, "thinking", r);
            if (drop_content && has_calls(copy)) {
                json_object_del(copy, "content");
            }
        }
        if (!copy || json_array_append_new(out, copy) != 0) {
            json_decref(out);
            return NULL;
        }
    }
    return out;
}

/* Ministral 3 reads system and assistant content as blocks: the reasoning as a "thinking" block, then the text. */
static json_t *as_blocks(json_t *messages) {
    json_t *out = json_array();
    size_t i;
    json_t *m;
    json_array_foreach(messages, i, m) {
        json_t *copy = json_copy(m);
        if (copy && (role_is(m, "system") || role_is(m, "assistant"))) {
            json_t *blocks = json_array();
            json_t *r = json_object_get(m, "reasoning_content");
            json_t *c = json_object_get(m, "content");
            if (json_is_string(r)) {
                json_array_append_new(blocks, json_pack("{s:s, s:O}", "type", "thinking", "thinking", r));
            }
            if (json_is_string(c)) {
                json_array_append_new(blocks, json_pack("{s:s, s:O}", "type", "text", "text", c));
            } else if (json_is_array(c)) {
                json_array_extend(blocks, c);
            }
            json_object_set_new(copy, "content", blocks);
            json_object_del(copy, "reasoning_content");
        }
        if (!copy || json_array_append_new(out, copy) != 0) {
            json_decref(out);
            return NULL;
        }
    }
    return out;
}

/* DeepSeek V4 renders consecutive tool results in the order of the calls that asked for them. */
static json_t *tool_results_in_call_order(json_t *messages) {
    json_t *out = json_copy(messages);
    json_t *calls = NULL; /* the last assistant message's tool calls */
    size_t n = json_array_size(out);
    for (size_t i = 0; out && i < n;) {
        json_t *m = json_array_get(out, i);
        if (role_is(m, "assistant") && has_calls(m)) {
            calls = json_object_get(m, "tool_calls");
            i++;
            continue;
        }
        if (!role_is(m, "user") && !role_is(m, "tool")) {
            i++;
            continue;
        }
        size_t end = i, n_tools = 0;
        size_t pos[64];
        for (; end < n && (role_is(json_array_get(out, end), "user") || role_is(json_array_get(out, end), "tool"));
             end++) {
            if (role_is(json_array_get(out, end), "tool") && n_tools < sizeof pos / sizeof pos[0]) {
                pos[n_tools++] = end;
            }
        }
        if (n_tools > 1 && calls) {
            /* each result's place: the index of the call with its id (0 when none has it); a stable sort */
            size_t order[64];
            json_t *res[64];
            for (size_t k = 0; k < n_tools; k++) {
                res[k] = json_incref(json_array_get(out, pos[k]));
                const char *id = json_string_value(json_object_get(res[k], "tool_call_id"));
                order[k] = 0;
                size_t c;
                json_t *tc;
                json_array_foreach(calls, c, tc) {
                    const char *cid = json_string_value(json_object_get(tc, "id"));
                    if (id && cid && cid[0] && strcmp(id, cid) == 0) {
                        order[k] = c; /* the last call with that id, as a map keeps it */
                    }
                }
            }
            for (size_t k = 1; k < n_tools; k++) {
                for (size_t j = k; j > 0 && order[j - 1] > order[j]; j--) {
                    size_t to = order[j];
                    order[j] = order[j - 1];
                    order[j - 1] = to;
                    json_t *tr = res[j];
                    res[j] = res[j - 1];
                    res[j - 1] = tr;
                }
            }
            for (size_t k = 0; k < n_tools; k++) {
                json_array_set_new(out, pos[k], res[k]);
            }
        }
        i = end;
    }
    return out;
}

/* An older Gemma 4 template has no tool role: an assistant turn with calls takes the results that follow (as
 * tool_responses) and the answer after them. */
static json_t *gemma4_turns(json_t *messages) {
    json_t *out = json_array();
    size_t n = json_array_size(messages);
    for (size_t i = 0; out && i < n;) {
        json_t *m = json_array_get(messages, i);
        if (!role_is(m, "assistant") || !has_calls(m)) {
            json_array_append(out, m);
            i++;
            continue;
        }
        json_t *calls = json_copy(json_object_get(m, "tool_calls"));
        json_t *responses = json_array();
        json_t *reasoning = json_object_get(m, "reasoning_content");
        json_t *content = NULL;
        size_t pos = i + 1;
        for (; pos < n && role_is(json_array_get(messages, pos), "tool"); pos++) {
            json_t *r = json_array_get(messages, pos);
            json_t *c = json_object_get(r, "content");
            json_t *response = NULL;
            if (json_is_string(c)) {
                response = json_loadb(json_string_value(c), json_string_length(c), JSON_DECODE_ANY, NULL);
            }
            if (!response) {
                response = c ? json_incref(c) : json_null();
            }
            const char *name = json_string_value(json_object_get(
                json_object_get(json_array_get(calls, json_array_size(responses)), "function"), "name"));
            if (!name || !name[0]) {
                name = json_string_value(json_object_get(r, "tool_call_id"));
            }
            json_array_append_new(responses, json_pack("{s:s, s:o}", "name", name ? name : "", "response", response));
        }
        json_t *next = json_array_get(messages, pos);
        if (next && role_is(next, "assistant") && !has_calls(next)) {
            json_t *c = json_object_get(next, "content");
            if ((json_is_string(c) && json_string_length(c) > 0) || (json_is_array(c) && json_array_size(c) > 0)) {
                content = c;
                pos++;
            }
        }
        json_t *turn = json_pack("{s:s, s:o}", "role", "assistant", "tool_calls", calls);
        if (turn && json_array_size(responses) > 0) {
            json_object_set(turn, "tool_responses", responses);
        }
        if (turn && content) {
            json_object_set(turn, "content", content);
        }
        if (turn && json_is_string(reasoning)) {
            json_object_set(turn, "reasoning_content", reasoning);
        }
        json_decref(responses);
        if (!turn || json_array_append_new(out, turn) != 0) {
            json_decref(out);
            return NULL;
        }
        i = pos;
    }
    return out;
}

/* ---- the continued message ---- */

/* The text a continued message adds after the rendered conversation, by family. */
static llamac_status continuation(const layer_info *info, const llamac_template *tmpl, const layer_render *r,
                                  const layer_continued *c, bool content, const char *prompt, llamac__dynbuf *gp) {
    const char *text = c->content[0] ? c->content : c->parts_text; /* render_content */
    const char *R = c->reasoning;
    switch (info->family) {
    case FAMILY_MINISTRAL3:
        llamac__dynbuf_adds(gp, "[THINK]");
        llamac__dynbuf_adds(gp, R);
        if (content) {
            llamac__dynbuf_adds(gp, "[/THINK]");
            llamac__dynbuf_adds(gp, text);
        }
        break;
    case FAMILY_GPT_OSS:
        llamac__dynbuf_adds(gp, "<|start|>assistant<|channel|>analysis<|message|>");
        llamac__dynbuf_adds(gp, R);
        if (content) {
            llamac__dynbuf_adds(gp, "<|end|><|start|>assistant<|channel|>final<|message|>");
            llamac__dynbuf_adds(gp, text);
        }
        break;
    case FAMILY_MUSE_GLIMMER:
        llamac__dynbuf_adds(gp, "<|start|>assistant to=self<|message|>");
        llamac__dynbuf_adds(gp, R);
        if (content) {
            llamac__dynbuf_adds(gp, "<|eom|><|start|>assistant to=user<|message|>");
            llamac__dynbuf_adds(gp, text);
        }
        break;
    case FAMILY_FUNCTIONARY_V32:
        llamac__dynbuf_adds(gp, "<|start_header_id|>assistant<|end_header_id|>\n\n>>>all\n");
        llamac__dynbuf_adds(gp, text);
        break;
    case FAMILY_GIGACHAT_V3:
        llamac__dynbuf_adds(gp, "assistant<|role_sep|>\n");
        llamac__dynbuf_adds(gp, text);
        break;
    case FAMILY_QWEN3_CODER:
        llamac__dynbuf_adds(gp, "<|im_start|>assistant\n");
        if (info->supports_thinking) {
            llamac__dynbuf_adds(gp, "<think>\n");
            llamac__dynbuf_adds(gp, R);
            if (content) {
                llamac__dynbuf_adds(gp, "\n</think>\n\n");
            }
        }
        if (content) {
            llamac__dynbuf_adds(gp, text);
        }
        break;
    case FAMILY_MINICPM5:
        llamac__dynbuf_adds(gp, "<|im_start|>assistant\n<think>\n");
        llamac__dynbuf_adds(gp, R);
        if (content) {
            llamac__dynbuf_adds(gp, "\n</think>\n\n");
            llamac__dynbuf_adds(gp, text);
        }
        break;
    case FAMILY_GEMMA4: {
        size_t n = strlen(prompt);
        if (n >= 8 && strcmp(prompt + n - 8, "<turn|>\n") == 0) {
            llamac__dynbuf_adds(gp, "<|turn>model\n");
        }
        llamac__dynbuf_adds(gp, "<|channel>thought\n");
        llamac__dynbuf_adds(gp, R);
        if (content) {
            llamac__dynbuf_adds(gp, "<channel|>");
            llamac__dynbuf_adds(gp, text);
        }
        break;
    }
    case FAMILY_DEEPSEEK_V32:
        llamac__dynbuf_adds(gp, "<\xef\xbd\x9c"
                                "Assistant\xef\xbd\x9c>");
        if (info->deepseek_v4 && !R[0]) {
            llamac__dynbuf_adds(gp, "</think>");
            if (content) {
                llamac__dynbuf_adds(gp, text);
            }
            break;
        }
        llamac__dynbuf_adds(gp, "<think>");
        llamac__dynbuf_adds(gp, R);
        if (content) {
            llamac__dynbuf_adds(gp, "</think>");
            llamac__dynbuf_adds(gp, text);
        }
        break;
    case FAMILY_GENERIC:
    case FAMILY_MINIMAX_M3:
    case FAMILY_KIMI_K2:
    case FAMILY_KIMI_K3:
    case FAMILY_LING3:
    case FAMILY_COHERE2MOE:
    case FAMILY_LFM2: {
        /* the open and close markers of the reasoning; after what the generation prompt would add, for the generic
         * family (up to its opening marker) and MiniMax M3 */
        static const char *const marks[][3] = {
            [FAMILY_KIMI_K2] = { "<|im_assistant|>assistant<|im_middle|>", "<think>", "</think>" },
            [FAMILY_KIMI_K3] = { "<|open|>message role=\"assistant\"<|sep|>", "<|open|>think<|sep|>",
                                 "<|close|>think<|sep|><|open|>response<|sep|>" },
            [FAMILY_LING3] = { "<role>ASSISTANT</role>\n", "<think>", "</think>" },
            [FAMILY_COHERE2MOE] = { "<|START_OF_TURN_TOKEN|><|CHATBOT_TOKEN|>", "<|START_THINKING|>",
                                    "<|END_THINKING|><|START_TEXT|>" },
            [FAMILY_LFM2] = { "<|im_start|>assistant\n", "<think>", "</think>" },
        };
        if (info->family == FAMILY_GENERIC || info->family == FAMILY_MINIMAX_M3) {
            char *gen = NULL;
            llamac_status st = layer_generation_prompt(info, tmpl, r, &gen);
            if (st != LLAMAC_OK) {
                return st;
            }
            const char *open = info->family == FAMILY_MINIMAX_M3 ? "<mm:think>" : info->reasoning_start;
            const char *close = info->family == FAMILY_MINIMAX_M3 ? "</mm:think>" : info->reasoning_end;
            if (info->family == FAMILY_MINIMAX_M3 || open[0]) {
                const char *at = info->family == FAMILY_MINIMAX_M3 ? NULL : strstr(gen, open);
                llamac__dynbuf_add(gp, gen, at ? (size_t)(at - gen) : strlen(gen));
                llamac__dynbuf_adds(gp, open);
                llamac__dynbuf_adds(gp, R);
                if (content) {
                    llamac__dynbuf_adds(gp, close);
                }
            } else {
                llamac__dynbuf_adds(gp, gen);
            }
            free(gen);
        } else {
            llamac__dynbuf_adds(gp, marks[info->family][0]);
            llamac__dynbuf_adds(gp, marks[info->family][1]);
            llamac__dynbuf_adds(gp, R);
            if (content) {
                llamac__dynbuf_adds(gp, marks[info->family][2]);
            }
        }
        if (content) {
            llamac__dynbuf_adds(gp, text);
        }
        break;
    }
    }
    return LLAMAC_OK;
}

/* ---- the request ---- */

/* llama-server's extra variables: the date in two formats (local time), then the kwargs. */
static json_t *extra_context(int64_t when, json_t *kwargs) {
    time_t now = when ? (time_t)when : time(NULL);
    struct tm tm;
    char datetime[64] = "", date[64] = "";
    if (localtime_r(&now, &tm)) {
        strftime(datetime, sizeof datetime, "%b %d %Y", &tm);
        strftime(date, sizeof date, "%d %b %Y", &tm);
    }
    json_t *extra = json_pack("{s:s, s:s}", "datetime", datetime, "date_string", date);
    if (extra && kwargs && json_object_update(extra, kwargs) != 0) {
        json_decref(extra);
        return NULL;
    }
    return extra;
}

typedef struct request {
    json_t *raw;    /* the messages as given */
    json_t *msgs;   /* in llama-server's shape, adapted */
    json_t *tools;  /* llama-server's tool list, or NULL */
    json_t *kwargs; /* the kwargs after llama-server's defaults and the request's reasoning fields */
    json_t *extra;
    bool agp, thinking;
    llamac_continuation cont;
    layer_continued last;
} request;

static void request_free(request *q) {
    json_decref(q->raw);
    json_decref(q->msgs);
    json_decref(q->tools);
    json_decref(q->kwargs);
    json_decref(q->extra);
    layer_continued_free(&q->last);
}

/* Everything llama-server decides before it renders: the checks, prefill, continuation, thinking, kwargs. */
static llamac_status request_read(const layer_info *info, const llamac_template_apply_params *in, json_t *messages,
                                  request *q) {
    json_t *user_kwargs = NULL, *tools = NULL;
    llamac_status st = LLAMAC_OK;
    if (messages) {
        q->raw = json_incref(messages);
    } else {
        st = llamac__template_load_json(in->messages_json, "messages", true, &q->raw);
    }
    if (st == LLAMAC_OK) {
        st = llamac__template_load_json(in->tools_json, "tools", true, &tools);
    }
    if (st == LLAMAC_OK) {
        st = llamac__template_load_json(in->chat_template_kwargs_json, "chat_template_kwargs", false, &user_kwargs);
    }
    if (st == LLAMAC_OK) {
        st = layer_messages(info, q->raw, &q->msgs);
    }
    if (st == LLAMAC_OK) {
        st = layer_tools(tools, &q->tools);
    }
    json_decref(tools);
    if (st != LLAMAC_OK) {
        json_decref(user_kwargs);
        return st;
    }
    size_t n = json_array_size(q->raw);
    q->agp = in->add_generation_prompt;
    q->cont = in->continue_final_message;
    json_t *last = json_array_get(q->raw, n ? n - 1 : 0);
    if (q->cont == LLAMAC_CONTINUE_NONE && in->prefill_assistant && n > 0 && role_is(last, "assistant")) {
        if (n >= 2 && role_is(json_array_get(q->raw, n - 2), "assistant")) {
            json_decref(user_kwargs);
            return llamac__fail(LLAMAC_E_INVALID_ARGUMENT,
                                "messages[%zu]: cannot have 2 or more assistant messages at the end of the list",
                                n - 1);
        }
        q->cont = LLAMAC_CONTINUE_AUTO;
        q->agp = false;
    }
    if (q->cont != LLAMAC_CONTINUE_NONE && q->agp) {
        json_decref(user_kwargs);
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT,
                            "cannot set both add_generation_prompt and continue_final_message to true");
    }
    if (q->cont != LLAMAC_CONTINUE_NONE && n > 0 && role_is(last, "assistant") && has_calls(last)) {
        json_decref(user_kwargs);
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT,
                            "messages[%zu]: cannot continue an assistant message that contains tool calls", n - 1);
    }
    /* the kwargs: llama-server's defaults (preserve_reasoning, and enable_thinking for --reasoning on/off), then the
     * request's */
    q->thinking = in->thinking != LLAMAC_THINKING_OFF && info->supports_thinking;
    q->kwargs = json_pack("{s:b}", "preserve_reasoning", 1);
    if (q->kwargs && in->thinking != LLAMAC_THINKING_AUTO) {
        json_object_set_new(q->kwargs, "enable_thinking", json_boolean(in->thinking == LLAMAC_THINKING_ON));
    }
    if (!q->kwargs || (user_kwargs && json_object_update(q->kwargs, user_kwargs) != 0)) {
        json_decref(user_kwargs);
        return LLAMAC_E_NO_MEMORY;
    }
    json_decref(user_kwargs);
    json_t *et = json_object_get(q->kwargs, "enable_thinking");
    if (json_is_boolean(et)) {
        q->thinking = json_is_true(et);
    } else if (json_is_string(et)) {
        return llamac__fail(
            LLAMAC_E_INVALID_ARGUMENT,
            "chat_template_kwargs: invalid type for \"enable_thinking\" (expected boolean, got string)");
    }
    if (in->reasoning_effort && strcmp(in->reasoning_effort, "none") == 0) {
        q->thinking = false;
        json_object_del(q->kwargs, "reasoning_effort");
    } else if (in->reasoning_effort && in->reasoning_effort[0]) {
        if (json_object_set_new(q->kwargs, "reasoning_effort", json_string(in->reasoning_effort)) != 0) {
            return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "reasoning_effort must be UTF-8 text");
        }
    }
    if (info->legacy) {
        return LLAMAC_OK; /* rendered as checked, the continued message included */
    }
    /* a continued message leaves the conversation; what it holds is appended after the render */
    if (q->cont != LLAMAC_CONTINUE_NONE && n > 0) {
        if ((st = layer_continued_of(q->raw, &q->last)) != LLAMAC_OK) {
            return st;
        }
        json_array_remove(q->msgs, json_array_size(q->msgs) - 1);
        if (q->cont == LLAMAC_CONTINUE_AUTO) {
            q->cont = q->last.reasoning[0] && !q->last.content[0] && !q->last.has_parts ? LLAMAC_CONTINUE_REASONING
                                                                                        : LLAMAC_CONTINUE_CONTENT;
        }
    }
    if ((st = layer_adapt(info, q->msgs)) != LLAMAC_OK) {
        return st;
    }
    q->extra = extra_context(in->now, q->kwargs);
    return q->extra ? LLAMAC_OK : LLAMAC_E_NO_MEMORY;
}

/* ---- llama.cpp's built-in formats ---- */

/* A built-in template (llama-server --no-jinja): the checked messages' roles and texts, content parts appended to the
 * content with "\n" before each once there is text, rendered by llama_chat_apply_template. */
static llamac_status builtin_apply(const llamac_template *tmpl, const request *q, char **out, size_t *len) {
    size_t n = json_array_size(q->msgs);
    llama_chat_message *chat = llamac__calloc(n ? n : 1, sizeof *chat);
    char **texts = llamac__calloc(n ? n : 1, sizeof *texts);
    char *buf = NULL;
    llamac_status st = LLAMAC_E_NO_MEMORY;
    size_t need = 64;
    if (!chat || !texts) {
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        json_t *m = json_array_get(q->msgs, i);
        json_t *c = json_object_get(m, "content");
        llamac__dynbuf t = LLAMAC__DYNBUF(LAYER_TEXT_MAX);
        llamac__dynbuf_add(&t, "", 0);
        if (json_is_string(c)) {
            llamac__dynbuf_add(&t, json_string_value(c), json_string_length(c));
        }
        size_t k;
        json_t *part;
        json_array_foreach(c, k, part) {
            json_t *pt = json_object_get(part, "text");
            if (llamac__dynbuf_len(&t) > 0) {
                llamac__dynbuf_add(&t, "\n", 1);
            }
            llamac__dynbuf_add(&t, json_string_value(pt) ? json_string_value(pt) : "", json_string_length(pt));
        }
        if (!(texts[i] = llamac__dynbuf_take(&t, NULL))) {
            goto done;
        }
        chat[i].role = json_string_value(json_object_get(m, "role"));
        chat[i].content = texts[i];
        need += strlen(texts[i]) + strlen(chat[i].role) + 16;
    }
    const char *name = llamac__template_builtin(tmpl);
    for (int attempt = 0; attempt < 2; attempt++) {
        if (need > INT32_MAX || !(buf = llamac__malloc(need))) {
            goto done;
        }
        int32_t r = llama_chat_apply_template(name, chat, n, q->agp, buf, (int32_t)need);
        if (r < 0) {
            st = llamac__fail(LLAMAC_E_TEMPLATE, "llama.cpp's built-in template \"%s\" failed on this conversation",
                              name);
            goto done;
        }
        if ((size_t)r < need) {
            buf[r] = '\0';
            *out = buf;
            buf = NULL;
            if (len) {
                *len = (size_t)r;
            }
            st = LLAMAC_OK;
            goto done;
        }
        free(buf);
        buf = NULL;
        need = (size_t)r + 1;
    }
done:
    for (size_t i = 0; texts && i < n; i++) {
        free(texts[i]);
    }
    free(texts);
    free(chat);
    free(buf);
    return st;
}

/* ---- the entry point ---- */

llamac_status llamac__template_apply(const llamac_template *tmpl, const llamac_model *model,
                                     const llamac_template_apply_params *in, json_t *messages, bool strip, char **out,
                                     size_t *len) {
    *out = NULL;
    if (len) {
        *len = 0;
    }
    if ((unsigned)in->continue_final_message > LLAMAC_CONTINUE_REASONING ||
        (unsigned)in->thinking > LLAMAC_THINKING_OFF) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "llamac_template_apply: %s out of range",
                            (unsigned)in->thinking > LLAMAC_THINKING_OFF ? "thinking" : "continue_final_message");
    }
    static const layer_info builtin_info = { .legacy = true };
    bool builtin = llamac__template_builtin(tmpl) != NULL;
    const layer_info *info = builtin ? &builtin_info : layer_info_get(tmpl);
    if (!info) {
        return LLAMAC_E_NO_MEMORY;
    }
    request q = { 0 };
    llamac_status st = request_read(info, in, messages, &q);
    json_t *override = NULL;
    char *prompt = NULL, *bos = NULL, *eos = NULL;
    size_t n = 0;
    if (st != LLAMAC_OK) {
        goto done;
    }
    if (builtin) {
        st = builtin_apply(tmpl, &q, out, len);
        goto done;
    }
    /* the model's BOS/EOS texts, whatever the template's origin, as llama-server gives them */
    if (model && (!(bos = llamac__token_text(model, llama_vocab_bos(model->vocab))) ||
                  !(eos = llamac__token_text(model, llama_vocab_eos(model->vocab))))) {
        st = LLAMAC_E_NO_MEMORY;
        goto done;
    }
    llamac_template_inputs limits = llamac_template_inputs_default();
    limits.now = in->now;
    layer_render r = { .messages = q.msgs,
                       .tools = q.tools,
                       .add_generation_prompt = q.agp,
                       .enable_thinking = q.thinking,
                       .extra = q.extra,
                       .bos = bos,
                       .eos = eos,
                       .strip_bos = strip && model && llama_vocab_get_add_bos(model->vocab),
                       .strip_eos = strip && model && llama_vocab_get_add_eos(model->vocab),
                       .limits = &limits };
    switch (info->family) {
    case FAMILY_GPT_OSS: override = with_thinking(q.msgs, true); break;
    case FAMILY_LFM2: override = with_thinking(q.msgs, false); break;
    case FAMILY_MINISTRAL3: override = as_blocks(q.msgs); break;
    case FAMILY_DEEPSEEK_V32: override = info->deepseek_v4 ? tool_results_in_call_order(q.msgs) : NULL; break;
    case FAMILY_GEMMA4:
        if (info->gemma4_old) {
            json_t *turns = gemma4_turns(q.msgs);
            if (!turns) {
                st = LLAMAC_E_NO_MEMORY;
                goto done;
            }
            json_decref(q.msgs);
            q.msgs = turns;
            r.messages = turns;
        }
        break;
    default: break;
    }
    bool needs_override = info->family == FAMILY_GPT_OSS || info->family == FAMILY_LFM2 ||
                          info->family == FAMILY_MINISTRAL3 ||
                          (info->family == FAMILY_DEEPSEEK_V32 && info->deepseek_v4);
    if (needs_override && !override) {
        st = LLAMAC_E_NO_MEMORY;
        goto done;
    }
    if (override) {
        r.messages = override;
        r.raw = true;
    }
    st = layer_direct_apply(info, tmpl, &r, &prompt, &n);
    if (st != LLAMAC_OK) {
        goto done;
    }
    llamac__dynbuf b = LLAMAC__DYNBUF(LAYER_TEXT_MAX);
    llamac__dynbuf_add(&b, prompt, n);
    if (info->family == FAMILY_GPT_OSS && !q.agp) {
        /* without a generation prompt the last <|return|> becomes <|end|> (the conversation goes on) */
        char *at = NULL;
        for (char *p = strstr(llamac__dynbuf_ptr(&b), "<|return|>"); p; p = strstr(p + 1, "<|return|>")) {
            at = p;
        }
        if (at) {
            size_t off = (size_t)(at - llamac__dynbuf_ptr(&b));
            llamac__dynbuf c = LLAMAC__DYNBUF(LAYER_TEXT_MAX);
            llamac__dynbuf_add(&c, llamac__dynbuf_ptr(&b), off);
            llamac__dynbuf_adds(&c, "<|end|>");
            llamac__dynbuf_adds(&c, llamac__dynbuf_ptr(&b) + off + 10);
            llamac__dynbuf_free(&b);
            b = c;
        }
    }
    if (info->family == FAMILY_GEMMA4 && q.agp && llamac__dynbuf_len(&b) >= 8 &&
        strcmp(llamac__dynbuf_ptr(&b) + llamac__dynbuf_len(&b) - 8, "<turn|>\n") == 0) {
        llamac__dynbuf_adds(&b, "<|turn>model\n"); /* after content with a tool call the template opens no model turn */
    }
    if (q.cont != LLAMAC_CONTINUE_NONE && q.last.present) {
        st = continuation(info, tmpl, &r, &q.last, q.cont == LLAMAC_CONTINUE_CONTENT, prompt, &b);
    }
    size_t total = llamac__dynbuf_len(&b);
    char *text = llamac__dynbuf_take(&b, NULL);
    if (st == LLAMAC_OK && !text) {
        st = LLAMAC_E_NO_MEMORY;
    }
    if (st != LLAMAC_OK) {
        free(text);
        goto done;
    }
    *out = text;
    if (len) {
        *len = total;
    }
    st = llamac__ok();
done:
    free(prompt);
    free(bos);
    free(eos);
    json_decref(override);
    request_free(&q);
    return st;
}

llamac_status llamac_template_get_caps(const llamac_template *tmpl, llamac_template_caps *out) {
    if (out) {
        memset(out, 0, sizeof *out);
    }
    if (!tmpl || !out) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "llamac_template_get_caps: %s is NULL", tmpl ? "out" : "tmpl");
    }
    if (llamac__template_builtin(tmpl)) {
        return llamac__ok();
    }
    const layer_info *info = layer_info_get(tmpl);
    if (!info) {
        return LLAMAC_E_NO_MEMORY;
    }
    out->string_content = info->caps.string_content;
    out->typed_content = info->caps.typed_content;
    out->system_role = info->caps.system_role;
    out->tools = info->caps.tools;
    out->tool_calls = info->caps.tool_calls;
    out->parallel_tool_calls = info->caps.parallel_tool_calls;
    out->object_arguments = info->caps.object_arguments;
    out->preserve_reasoning = info->caps.preserve_reasoning;
    out->reasoning_effort = info->caps.reasoning_effort;
    out->thinking = info->supports_thinking;
    return llamac__ok();
}

/* Where a prompt leaves the thinking block: after the last opening marker, is there a closing one, and only white
 * space after it? (llama.cpp's parser reads the generation prompt from the opening marker on together with the
 * reply.) */
typedef enum { THINK_NORMAL, THINK_OPEN, THINK_CLOSED } think_state;

static const char *last_of(const char *hay, const char *needle) {
    const char *last = NULL;
    for (const char *at = strstr(hay, needle); at; at = strstr(at + 1, needle)) {
        last = at;
    }
    return last;
}

static think_state prompt_think_state(const char *prompt, const char *start, const char *end, const char **after) {
    const char *open = last_of(prompt, start);
    if (!open) {
        return THINK_NORMAL;
    }
    *after = open + strlen(start);
    const char *close = strstr(*after, end);
    if (!close) {
        return THINK_OPEN;
    }
    *after = close + strlen(end);
    for (const char *p = close + strlen(end); *p; p++) {
        if (*p != ' ' && *p != '\n' && *p != '\r' && *p != '\t') {
            return THINK_NORMAL;
        }
    }
    return THINK_CLOSED;
}

llamac_status llamac_template_parse_params(const llamac_template *tmpl, const char *prompt, bool tools,
                                           llamac_reasoning_format reasoning, llamac_tool_parse_params *out) {
    if (!tmpl || !prompt || !out) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "llamac_template_parse_params: %s is NULL",
                            !tmpl     ? "tmpl"
                            : !prompt ? "prompt"
                                      : "out");
    }
    if ((unsigned)reasoning > LLAMAC_REASONING_DEEPSEEK) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "llamac_template_parse_params: unknown reasoning format %d",
                            (int)reasoning);
    }
    *out = llamac_tool_parse_params_default();
    out->reasoning = reasoning;
    const layer_info *info = llamac__template_builtin(tmpl) ? NULL : layer_info_get(tmpl);
    if (!llamac__template_builtin(tmpl) && !info) {
        return LLAMAC_E_NO_MEMORY;
    }
    out->format = llamac_tool_format_detect(llamac_template_source(tmpl, NULL));
    out->parse_tool_calls =
        tools || out->format == LLAMAC_TOOL_FORMAT_HARMONY || out->format == LLAMAC_TOOL_FORMAT_COMMAND_R7B;
    /* llama.cpp's Qwen3-Coder-family (with thinking) and Ling 3 readers end the thinking block at <tool_call> too */
    out->think_ends_at_call = info && (info->family == FAMILY_QWEN3_CODER || info->family == FAMILY_LING3);
    out->think_start = info ? info->think_start : "";
    out->think_end = info ? info->think_end : "";
    if (out->format == LLAMAC_TOOL_FORMAT_LFM2 && !strstr(llamac_template_source(tmpl, NULL), "<think>")) {
        out->think_start = out->think_end = ""; /* llama.cpp's LFM2 reader: <think> only where the template has it */
    }
    if (out->think_start && out->think_end) {
        /* the markers' cores: llama.cpp finds the thinking block in the generation prompt by them */
        char *start = layer_trim(out->think_start, strlen(out->think_start));
        char *end = layer_trim(out->think_end, strlen(out->think_end));
        if (!start || !end) {
            free(start);
            free(end);
            return llamac__fail(LLAMAC_E_NO_MEMORY, "out of memory reading a template's thinking markers");
        }
        if (start[0] && end[0] && !info->no_generation_prompt) {
            /* (where llama.cpp's generation prompt is empty, the prompt's own thinking markers are nothing to its
             * parser: a reply's thinking block is read as written) */
            const char *after = NULL;
            think_state ts = prompt_think_state(prompt, start, end, &after);
            out->reasoning_open = ts == THINK_OPEN;
            if (ts == THINK_OPEN) {
                /* the marker's own trailing white space is optional; what else follows it is reasoning already */
                const char *ws = strstr(out->think_start, start) + strlen(start);
                for (; *ws && *after == *ws; ws++) {
                    after++;
                }
                out->lead = after;
            } else if (ts == THINK_CLOSED) {
                /* after the closing marker and its own optional white space: the start of the content */
                const char *ws = strstr(out->think_end, end) + strlen(end);
                for (; *ws && *after == *ws; ws++) {
                    after++;
                }
                out->lead = after[0] ? after : NULL;
            }
            if (ts == THINK_CLOSED && out->format != LLAMAC_TOOL_FORMAT_GEMMA4) {
                /* (llama.cpp's Gemma 4 reader takes a thought block as reasoning even after the prompt's empty one) */
                out->reasoning = LLAMAC_REASONING_NONE;
            }
        }
        free(start);
        free(end);
    }
    return llamac__ok();
}

llamac_status llamac_template_reasoning_budget(const llamac_template *tmpl, const char *prompt,
                                               llamac_reasoning_budget *budget) {
    if (!tmpl || !prompt || !budget) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "llamac_template_reasoning_budget: %s is NULL",
                            !tmpl     ? "tmpl"
                            : !prompt ? "prompt"
                                      : "budget");
    }
    budget->start = NULL;
    budget->ends = NULL;
    budget->n_ends = 0;
    budget->prefill = NULL;
    if (llamac__template_builtin(tmpl)) {
        return llamac__ok();
    }
    const layer_info *info = layer_info_get(tmpl);
    if (!info) {
        return llamac__fail(LLAMAC_E_NO_MEMORY, "out of memory reading a template's thinking tags");
    }
    if (!info->budget_start) {
        return llamac__ok();
    }
    budget->start = info->budget_start;
    budget->ends = info->budget_ends;
    budget->n_ends = info->n_budget_ends;
    /* llama.cpp feeds the budget the generation prompt; only an open thinking block in it matters (a closed one
     * leaves the budget where it starts), and the block is the prompt's tail from its start tag on; where that
     * generation prompt is empty (no_generation_prompt), no block in the prompt is open for it */
    const char *opened = info->no_generation_prompt ? NULL : last_of(prompt, info->budget_start);
    if (opened) {
        const char *after = opened + strlen(info->budget_start);
        bool closed = false;
        for (size_t i = 0; i < info->n_budget_ends && !closed; i++) {
            closed = strstr(after, info->budget_ends[i]) != NULL;
        }
        budget->prefill = closed ? NULL : opened;
    }
    return llamac__ok();
}
