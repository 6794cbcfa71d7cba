/*
 * render.c - the public entry points of the chat layer (layer*.c): llamac_template_apply (a conversation, for a
 * model, into the text llama-server would tokenize) and llamac_template_stable_tokens (how much of a prompt whose
 * last message is still being typed cannot change any more), and llama.cpp's BOS/EOS rule for prompts.
 *
 * The layer renders with or without dropping the model's BOS/EOS text, so that chat sessions can use it apart: a
 * session renders twice (the real conversation and one with each content replaced by a sentinel, to keep message
 * text from becoming special tokens) and drops the BOS/EOS text from the template's pieces only, never from message
 * text.
 */
#include "chat/chat_internal.h"
#include "dynbuf.h"
#include "text/template_internal.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Replaces the content of the message being typed while looking for the template's text before it. It need not be
 * unique: were it found earlier in the render (typed into an earlier message), the text before it would be a prefix
 * of the real render anyway, and only the stable count would come out smaller. */
#define TYPED_SENTINEL "[[llamac-typed:5f2c81d7]]"

llamac_template_apply_params llamac_template_apply_params_default(void) {
    llamac_template_apply_params p;
    memset(&p, 0, sizeof p);
    p.add_generation_prompt = true;
    p.prefill_assistant = true;
    return p;
}

/* ---- a request body's fields ---- */

/* The most text the fields of one request body take. */
#define REQUEST_TEXT_MAX ((size_t)1 << 30)

/* Appends `v` (NULL: nothing) as compact JSON text and its NUL; *at gets its offset, or SIZE_MAX for none. */
static void keep_json(llamac__dynbuf *b, json_t *v, size_t *at) {
    *at = SIZE_MAX;
    if (!v || json_is_null(v)) {
        return;
    }
    char *text = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    if (!text) {
        llamac__dynbuf_fail(b, LLAMAC__DYNBUF_NO_MEMORY);
        return;
    }
    *at = llamac__dynbuf_len(b);
    llamac__dynbuf_add(b, text, strlen(text) + 1);
    free(text);
}

llamac_status llamac_template_apply_params_from_json(const char *body_json, llamac_template_apply_params *params,
                                                     char **keep) {
    if (keep) {
        *keep = NULL;
    }
    if (!body_json || !params || !keep) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "llamac_template_apply_params_from_json: NULL argument");
    }
    json_t *body = NULL;
    llamac_status st = llamac__template_load_json(body_json, "the request", false, &body);
    if (st != LLAMAC_OK) {
        return st;
    }
    if (!json_is_object(body) || !json_object_get(body, "messages")) {
        json_decref(body);
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "the request must be a JSON object with 'messages'");
    }
    llamac__dynbuf b = LLAMAC__DYNBUF(REQUEST_TEXT_MAX);
    size_t at[4];
    keep_json(&b, json_object_get(body, "messages"), &at[0]);
    keep_json(&b, json_object_get(body, "tools"), &at[1]);
    keep_json(&b, json_object_get(body, "chat_template_kwargs"), &at[2]);
    json_t *effort = json_object_get(body, "reasoning_effort");
    at[3] = SIZE_MAX;
    if (json_is_string(effort)) {
        at[3] = llamac__dynbuf_len(&b);
        llamac__dynbuf_add(&b, json_string_value(effort), json_string_length(effort) + 1);
    }
    char *text = llamac__dynbuf_take(&b, NULL);
    if (!text) {
        json_decref(body);
        return llamac__fail(LLAMAC_E_NO_MEMORY, "out of memory reading the request");
    }
    params->messages_json = text + at[0];
    params->tools_json = at[1] == SIZE_MAX ? NULL : text + at[1];
    params->chat_template_kwargs_json = at[2] == SIZE_MAX ? NULL : text + at[2];
    params->reasoning_effort = at[3] == SIZE_MAX ? NULL : text + at[3];
    json_t *agp = json_object_get(body, "add_generation_prompt");
    if (json_is_boolean(agp)) {
        params->add_generation_prompt = json_is_true(agp);
    }
    /* llama.cpp's reading of continue_final_message (common_chat_continuation_parse) */
    json_t *cont = json_object_get(body, "continue_final_message");
    const char *cs = json_string_value(cont);
    params->continue_final_message = json_is_true(cont)                           ? LLAMAC_CONTINUE_AUTO
                                     : cs && strcmp(cs, "content") == 0           ? LLAMAC_CONTINUE_CONTENT
                                     : cs && strcmp(cs, "reasoning_content") == 0 ? LLAMAC_CONTINUE_REASONING
                                                                                  : LLAMAC_CONTINUE_NONE;
    json_decref(body);
    *keep = text;
    return llamac__ok();
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

llamac_status llamac_template_apply(const llamac_template *tmpl, const llamac_model *model,
                                    const llamac_template_apply_params *params, char **out, size_t *len) {
    if (out) {
        *out = NULL;
    }
    if (len) {
        *len = 0;
    }
    if (!tmpl || !params || !out || !params->messages_json) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "llamac_template_apply: %s is NULL",
                            !tmpl     ? "tmpl"
                            : !params ? "params"
                            : !out    ? "out"
                                      : "params->messages_json");
    }
    llamac_status st = llamac__template_apply(tmpl, model, params, NULL, true, out, len);
    return st == LLAMAC_OK ? llamac__ok() : st;
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
    if ((st = llamac__template_apply(tmpl, model, p, sent, false, &rs, &rs_len)) != LLAMAC_OK) {
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
