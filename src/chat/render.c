/*
 * render.c - a conversation into a prompt, once for everyone: llamac_template_apply (messages, tools, kwargs and a
 * template, for a model, into the text llama-server would tokenize) and llamac_template_stable_tokens (how much of
 * a prompt whose last message is still being typed cannot change any more).
 *
 * The steps are llama.cpp's (common/chat.cpp, common_chat_templates_apply): the conversation is adapted to what a
 * template takes, rendered, and the model's BOS/EOS text is stripped where tokenizing adds the token anyway. They
 * are split so that chat sessions can use them apart: a session renders twice (the real conversation and one with
 * each content replaced by a sentinel, to keep message text from becoming special tokens) and strips the BOS/EOS
 * text from the template's pieces only, not from message text. The chat layer's adaptations (issue #19) go into
 * llamac__template_apply, which every caller reaches.
 */
#include "chat/chat_internal.h"
#include "dynbuf.h"
#include "schema/toolcall.h"
#include "text/template_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The most text a message's content parts join into: past any request body or conversation. */
#define PARTS_MAX ((size_t)1 << 30)

/* Replaces the content of the message being typed while looking for the template's text before it. It need not be
 * unique: were it found earlier in the render (typed into an earlier message), the text before it would be a prefix
 * of the real render anyway, and only the stable count would come out smaller. */
#define TYPED_SENTINEL "[[llamac-typed:5f2c81d7]]"

llamac_template_apply_params llamac_template_apply_params_default(void) {
    llamac_template_apply_params p;
    memset(&p, 0, sizeof p);
    p.add_generation_prompt = true;
    return p;
}

/* ---- the model's BOS/EOS rules ---- */

/* The text of a special token as templates see bos_token (special rendering on), into buf; 0 for none. */
static size_t special_text(const llamac_model *model, llama_token tok, char *buf, size_t cap) {
    if (tok == LLAMA_TOKEN_NULL) {
        return 0;
    }
    int32_t n = llama_token_to_piece(model->vocab, tok, buf, (int32_t)cap, 0, true);
    return n > 0 ? (size_t)n : 0;
}

size_t llamac__prompt_bos_len(const llamac_model *model, const char *s, size_t len) {
    if (!llama_vocab_get_add_bos(model->vocab)) {
        return 0;
    }
    char bos[256];
    size_t n = special_text(model, llama_vocab_bos(model->vocab), bos, sizeof bos);
    return n > 0 && len >= n && memcmp(s, bos, n) == 0 ? n : 0;
}

size_t llamac__prompt_eos_len(const llamac_model *model, const char *s, size_t len) {
    if (!llama_vocab_get_add_eos(model->vocab)) {
        return 0;
    }
    char eos[256];
    size_t n = special_text(model, llama_vocab_eos(model->vocab), eos, sizeof eos);
    return n > 0 && len >= n && memcmp(s + len - n, eos, n) == 0 ? n : 0;
}

/* ---- the conversation, adapted ---- */

/* The text of message i's OpenAI content-part array into *out (a new string): the text parts joined with "\n". */
static llamac_status flatten_parts(size_t i, json_t *parts, json_t **out) {
    llamac__dynbuf text = LLAMAC__DYNBUF(PARTS_MAX);
    size_t k;
    json_t *part;
    llamac_status st = LLAMAC_OK;
    *out = NULL;
    json_array_foreach(parts, k, part) {
        const char *type = json_string_value(json_object_get(part, "type"));
        json_t *t = json_object_get(part, "text");
        if (!json_is_object(part) || !type) {
            st = llamac__fail(LLAMAC_E_INVALID_ARGUMENT,
                              "'messages[%zu].content[%zu]' must be an object with a string 'type'", i, k);
            goto done;
        }
        if (strcmp(type, "text") != 0) {
            st = llamac__fail(LLAMAC_E_UNSUPPORTED,
                              "'messages[%zu].content[%zu]' is of type \"%.64s\": multimodal input is not supported "
                              "by this model/build (only \"text\" content parts are)",
                              i, k, type);
            goto done;
        }
        if (!json_is_string(t)) {
            st = llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "'messages[%zu].content[%zu].text' must be a string", i, k);
            goto done;
        }
        if (k > 0 && llamac__dynbuf_len(&text) > 0) {
            llamac__dynbuf_addc(&text, '\n');
        }
        llamac__dynbuf_add(&text, json_string_value(t), json_string_length(t));
    }
    if (llamac__dynbuf_error(&text) || !(*out = json_stringn(llamac__dynbuf_ptr(&text), llamac__dynbuf_len(&text)))) {
        st = llamac__fail(LLAMAC_E_NO_MEMORY, "out of memory joining content parts");
    }
done:
    llamac__dynbuf_free(&text);
    return st;
}

/* The messages as the template gets them, into *out (a new reference, the caller decrefs): `messages` itself when
 * no message has a content-part array, else a copy with each array flattened. */
static llamac_status adapt_messages(json_t *messages, json_t **out) {
    json_t *copy = NULL;
    *out = NULL;
    for (size_t i = 0; i < json_array_size(messages); i++) {
        json_t *m = json_array_get(messages, i);
        json_t *content = json_object_get(m, "content");
        if (!json_is_array(content)) {
            continue;
        }
        json_t *text = NULL;
        llamac_status st = flatten_parts(i, content, &text);
        if (st != LLAMAC_OK) {
            json_decref(copy);
            return st;
        }
        json_t *msg = json_copy(m);
        if (!msg) {
            json_decref(text);
        }
        /* json_object_set_new and json_array_set_new take their value's reference even when they fail */
        if (!msg || json_object_set_new(msg, "content", text) != 0 || (!copy && !(copy = json_copy(messages))) ||
            json_array_set_new(copy, i, json_incref(msg)) != 0) {
            json_decref(msg);
            json_decref(copy);
            return llamac__fail(LLAMAC_E_NO_MEMORY, "out of memory adapting the conversation");
        }
        json_decref(msg);
    }
    *out = copy ? copy : json_incref(messages);
    return LLAMAC_OK;
}

llamac_status llamac__template_apply(const llamac_template *tmpl, const llamac_template_apply_params *p,
                                     json_t *messages, char **out, size_t *len) {
    json_t *own = NULL, *adapted = NULL, *tools = NULL, *kwargs = NULL;
    llamac_status st = LLAMAC_OK;
    *out = NULL;
    if (len) {
        *len = 0;
    }
    if (!messages && (st = llamac__template_load_json(p->messages_json, "messages", true, &own)) != LLAMAC_OK) {
        goto done;
    }
    if ((st = llamac__template_load_json(p->tools_json, "tools", true, &tools)) != LLAMAC_OK ||
        (st = llamac__template_load_json(p->chat_template_kwargs_json, "chat_template_kwargs", false, &kwargs)) !=
            LLAMAC_OK) {
        goto done;
    }
    if ((st = adapt_messages(messages ? messages : own, &adapted)) != LLAMAC_OK ||
        (st = llamac__tool_history_check_json(adapted)) != LLAMAC_OK) {
        goto done;
    }
    llamac_template_inputs in = llamac_template_inputs_default();
    in.add_generation_prompt = p->add_generation_prompt;
    in.now = p->now;
    /* as llama.cpp: an empty tools array is no tools (the template sees `tools` undefined) */
    st = llamac__template_render_json(tmpl, &in, adapted, json_array_size(tools) > 0 ? tools : NULL, kwargs, out, len);
done:
    json_decref(own);
    json_decref(adapted);
    json_decref(tools);
    json_decref(kwargs);
    return st;
}

llamac_status llamac_template_apply(const llamac_template *tmpl, const llamac_model *model,
                                    const llamac_template_apply_params *params, char **out, size_t *len) {
    if (out) {
        *out = NULL;
    }
    if (len) {
        *len = 0;
    }
    if (!tmpl || !model || !params || !out || !params->messages_json) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "llamac_template_apply: %s is NULL",
                            !tmpl     ? "tmpl"
                            : !model  ? "model"
                            : !params ? "params"
                            : !out    ? "out"
                                      : "params->messages_json");
    }
    char *text = NULL;
    size_t n = 0;
    llamac_status st = llamac__template_apply(tmpl, params, NULL, &text, &n);
    if (st != LLAMAC_OK) {
        return st;
    }
    size_t skip = llamac__prompt_bos_len(model, text, n);
    n -= skip;
    n -= llamac__prompt_eos_len(model, text + skip, n);
    memmove(text, text + skip, n);
    text[n] = '\0';
    *out = text;
    if (len) {
        *len = n;
    }
    return llamac__ok();
}

/* ---- the stable part of a message being typed ---- */

llamac_status llamac__template_stable_tokens(const llamac_template *tmpl, const llamac_model *model,
                                             const llamac_template_apply_params *p, json_t *messages,
                                             const llamac_token *tokens, size_t n_tokens, size_t margin,
                                             size_t *n_stable) {
    json_t *own = NULL, *sent = NULL;
    char *rs = NULL, *prefix = NULL;
    llamac_token *pre = NULL;
    size_t n_pre = 0;
    llamac_status st;
    *n_stable = 0;
    if (!messages && (st = llamac__template_load_json(p->messages_json, "messages", true, &own)) != LLAMAC_OK) {
        return st;
    }
    json_t *msgs = messages ? messages : own;
    size_t n = json_array_size(msgs);
    json_t *last = n > 0 ? json_array_get(msgs, n - 1) : NULL;
    json_t *typed = json_object_get(last, "content");
    if (!json_is_string(typed)) {
        st = llamac__fail(LLAMAC_E_INVALID_ARGUMENT,
                          "the last message is the one being typed: it must exist and have string content");
        goto done;
    }
    json_t *copy = json_copy(last);
    sent = json_copy(msgs);
    /* both setters take their value's reference, also when they fail */
    if (!copy || !sent || json_object_set_new(copy, "content", json_string(TYPED_SENTINEL)) != 0 ||
        json_array_set_new(sent, n - 1, json_incref(copy)) != 0) {
        json_decref(copy);
        st = llamac__fail(LLAMAC_E_NO_MEMORY, "out of memory rendering a partial message");
        goto done;
    }
    json_decref(copy);
    size_t rs_len = 0;
    if ((st = llamac__template_apply(tmpl, p, sent, &rs, &rs_len)) != LLAMAC_OK) {
        goto done;
    }
    const char *at = strstr(rs, TYPED_SENTINEL);
    if (!at) {
        st = llamac__ok(); /* a template that rewrites the message: nothing counts as stable */
        goto done;
    }
    size_t before = (size_t)(at - rs), t_len = json_string_length(typed);
    if (!(prefix = llamac__malloc(before + t_len + 1))) {
        st = LLAMAC_E_NO_MEMORY;
        goto done;
    }
    memcpy(prefix, rs, before);
    memcpy(prefix + before, json_string_value(typed), t_len);
    size_t skip = llamac__prompt_bos_len(model, prefix, before + t_len);
    st = llamac_tokenize(model, prefix + skip, before + t_len - skip,
                         LLAMAC_TOKENIZE_ADD_SPECIAL | LLAMAC_TOKENIZE_PARSE_SPECIAL, &pre, &n_pre);
    if (st != LLAMAC_OK) {
        goto done;
    }
    size_t stable = llamac__common_prefix(pre, n_pre, tokens, n_tokens);
    *n_stable = stable > margin ? stable - margin : 0;
    st = llamac__ok();
done:
    llamac_free(pre);
    free(prefix);
    free(rs);
    json_decref(sent);
    json_decref(own);
    return st;
}

llamac_status llamac_template_stable_tokens(const llamac_template *tmpl, const llamac_model *model,
                                            const llamac_template_apply_params *params, const llamac_token *tokens,
                                            size_t n_tokens, size_t margin, size_t *n_stable) {
    if (n_stable) {
        *n_stable = 0;
    }
    if (!tmpl || !model || !params || !params->messages_json || !n_stable || (!tokens && n_tokens > 0)) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "llamac_template_stable_tokens: NULL argument");
    }
    return llamac__template_stable_tokens(tmpl, model, params, NULL, tokens, n_tokens, margin, n_stable);
}
