/*
 * chat.c - chat sessions: the conversation, its rendering into tokens, and one reply at a time.
 *
 * Every turn the whole conversation is rendered again with the real template, and only the tokens after the
 * longest common prefix with the sequence's cache are decoded: no incremental bookkeeping of what the template
 * would have added, so any template works. Injection safety comes from a second render in which every message
 * content is replaced by a unique sentinel: it shows which bytes of the prompt are the template's and which are
 * the messages'. When no content holds special-token text the prompt is tokenized whole, exactly as llama.cpp's
 * server does; otherwise the template's text is tokenized with special tokens and the contents as plain text.
 * Both renders go through render.c, the steps of llamac_template_apply, so a session's prompt is the one
 * llama-server makes of the same conversation.
 */
#include "chat/chat_internal.h"
#include "dynbuf.h"
#include "gen/gen_internal.h"
#include "text/textout.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SENTINEL_OPEN "[[llamac:"

llamac_chat_params llamac_chat_params_default(void) {
    llamac_chat_params p;
    memset(&p, 0, sizeof p);
    p.keep_last_turns = 2;
    p.generate = llamac_generate_params_default();
    return p;
}

/* ---- small helpers ---- */

static char *dup_str(const char *s) {
    return s ? llamac__strndup(s, strlen(s)) : NULL;
}

static llamac_status check_json(const char *text, const char *what, bool want_array) {
    json_error_t err;
    json_t *j = json_loads(text, JSON_DECODE_ANY, &err);
    if (!j) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "%s is not valid JSON (line %d, column %d): %s", what, err.line,
                            err.column, err.text);
    }
    bool ok = want_array ? json_is_array(j) : json_is_object(j);
    json_decref(j);
    if (!ok) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "%s must be a JSON %s", what, want_array ? "array" : "object");
    }
    return LLAMAC_OK;
}

/* The conversation's render parameters (the messages come apart, as parsed JSON). */
static llamac_template_apply_params apply_params(const llamac_chat *chat, bool add_generation_prompt) {
    llamac_template_apply_params p = llamac_template_apply_params_default();
    p.messages_json = "[]";
    p.tools_json = chat->tools_json;
    p.chat_template_kwargs_json = chat->kwargs_json;
    p.thinking = chat->thinking;
    p.add_generation_prompt = add_generation_prompt;
    p.prefill_assistant = false; /* a session's messages are whole turns: none is continued */
    return p;
}

/* Renders `msgs` as the conversation, without the BOS/EOS stripping (see llamac__chat_render). */
static llamac_status render(const llamac_chat *chat, json_t *msgs, bool add_generation_prompt, char **out,
                            size_t *len) {
    llamac_template_apply_params p = apply_params(chat, add_generation_prompt);
    return llamac__template_apply(chat->tmpl, chat->ctx->model, &p, msgs, false, out, len);
}

llamac_status llamac__chat_check_message(const json_t *m, bool allow_system) {
    if (!json_is_object(m)) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "a message must be a JSON object");
    }
    const char *role = json_string_value(json_object_get(m, "role"));
    if (!role) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "a message needs a \"role\" string");
    }
    if (strcmp(role, "user") != 0 && strcmp(role, "assistant") != 0 && strcmp(role, "tool") != 0 &&
        !(allow_system && strcmp(role, "system") == 0)) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "message role '%s' is not one of user, assistant, tool%s", role,
                            allow_system ? ", system" : " (set the system prompt with llamac_chat_set_system)");
    }
    json_t *content = json_object_get(m, "content");
    if (content && !json_is_string(content) && !json_is_null(content)) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT,
                            "message \"content\" must be a string or null (content-part arrays are not supported)");
    }
    if (json_is_string(content) && !llamac_utf8_valid(json_string_value(content), json_string_length(content), NULL)) {
        return llamac__fail(LLAMAC_E_UTF8, "message content is not valid UTF-8");
    }
    return LLAMAC_OK;
}

/* ---- creation ---- */

static llamac_status copy_generate(llamac_chat *chat, const llamac_generate_params *g) {
    chat->gen = *g;
    chat->gen.on_text = NULL;
    chat->gen.user_data = NULL;
    chat->gen.tokenize_flags = 0;
    llamac_status st = llamac__stops_check(g->stop, g->n_stop, "generate.n_stop");
    if (st != LLAMAC_OK) {
        return st;
    }
    chat->stops = llamac__calloc(g->n_stop + 1, sizeof(char *));
    if (!chat->stops) {
        return LLAMAC_E_NO_MEMORY;
    }
    for (size_t i = 0; i < g->n_stop; i++) {
        if (!(chat->stops[chat->n_stops++] = dup_str(g->stop[i]))) {
            return LLAMAC_E_NO_MEMORY;
        }
    }
    return llamac__sampling_copy(&g->sampling, "sampling.", &chat->gen.sampling, &chat->sampling_copy);
}

/* What the template writes right after an assistant message: its end-of-turn text, first line, trimmed. */
static llamac_status find_end_of_turn(llamac_chat *chat) {
    char sentinel[64];
    snprintf(sentinel, sizeof sentinel, SENTINEL_OPEN "%08x:eot]]", chat->salt);
    json_t *msgs = json_pack("[{s:s,s:s},{s:s,s:s}]", "role", "user", "content", "Hello", "role", "assistant",
                             "content", sentinel);
    if (!msgs) {
        return llamac__fail(LLAMAC_E_NO_MEMORY, "out of memory rendering the chat template");
    }
    char *out = NULL;
    size_t len = 0;
    llamac_status st = render(chat, msgs, false, &out, &len);
    json_decref(msgs);
    if (st != LLAMAC_OK) {
        llamac__ok(); /* a template that cannot end on an assistant message just has no end-of-turn text */
        return LLAMAC_OK;
    }
    const char *at = strstr(out, sentinel);
    if (at) {
        const char *s = at + strlen(sentinel);
        while (*s == ' ' || *s == '\n' || *s == '\r' || *s == '\t') {
            s++;
        }
        size_t n = 0;
        while (s[n] && s[n] != '\n' && s[n] != '\r') {
            n++;
        }
        while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t')) {
            n--;
        }
        if (n > 0 && !(chat->end_of_turn = llamac__strndup(s, n))) {
            free(out);
            return LLAMAC_E_NO_MEMORY;
        }
    }
    free(out);
    return LLAMAC_OK;
}

llamac_status llamac_chat_new(llamac_context *ctx, const llamac_chat_params *params, llamac_chat **out) {
    if (out) {
        *out = NULL;
    }
    if (!ctx || !out) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "llamac_chat_new: NULL argument");
    }
    llamac_chat_params def = llamac_chat_params_default();
    const llamac_chat_params *p = params ? params : &def;
    if (p->keep_last_turns < 1) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "keep_last_turns %d must be at least 1", p->keep_last_turns);
    }
    if (p->reserve_tokens < 0) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "reserve_tokens %d must be 0 (automatic) or more",
                            p->reserve_tokens);
    }
    if (p->generate.max_tokens < -1) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "max_tokens %d must be -1 (no limit) or more",
                            p->generate.max_tokens);
    }
    llamac_status st = llamac__seq_check(ctx, p->generate.seq, false);
    if (st != LLAMAC_OK) {
        return st;
    }
    if (p->system_prompt && !llamac_utf8_valid(p->system_prompt, strlen(p->system_prompt), NULL)) {
        return llamac__fail(LLAMAC_E_UTF8, "the system prompt is not valid UTF-8");
    }
    if (p->template_kwargs_json && (st = check_json(p->template_kwargs_json, "template_kwargs_json", false))) {
        return st;
    }
    if (p->tools_json && (st = check_json(p->tools_json, "tools_json", true))) {
        return st;
    }
    llamac_chat *chat = llamac__calloc(1, sizeof *chat);
    if (!chat) {
        return LLAMAC_E_NO_MEMORY;
    }
    chat->ctx = ctx;
    chat->keep_last_turns = p->keep_last_turns;
    chat->thinking = p->thinking;
    chat->reserve_tokens = p->reserve_tokens;
    chat->salt = (uint32_t)time(NULL) ^ (uint32_t)(uintptr_t)chat ^ 0x5bd1e995u;
    chat->messages = json_array();
    chat->cap_cache = llama_n_ctx_seq(ctx->lc);
    chat->cache = llamac__malloc((chat->cap_cache + 1) * sizeof(llamac_token));
    if (!chat->messages || !chat->cache) {
        st = llamac__fail(LLAMAC_E_NO_MEMORY, "out of memory creating a chat session");
        goto fail;
    }
    if ((p->system_prompt && !(chat->system = dup_str(p->system_prompt))) ||
        (p->template_kwargs_json && !(chat->kwargs_json = dup_str(p->template_kwargs_json))) ||
        (p->tools_json && !(chat->tools_json = dup_str(p->tools_json)))) {
        st = LLAMAC_E_NO_MEMORY;
        goto fail;
    }
    if ((st = copy_generate(chat, &p->generate)) != LLAMAC_OK) {
        goto fail;
    }
    if (p->mmproj && (st = llamac__chat_media_init(chat, p->mmproj)) != LLAMAC_OK) {
        goto fail;
    }
    if (p->template_source) {
        size_t len = strlen(p->template_source);
        if ((st = llamac_template_new(p->template_source, len, &chat->tmpl)) != LLAMAC_OK) {
            goto fail;
        }
    } else if (p->template_name) {
        if ((st = llamac_template_builtin(p->template_name, &chat->tmpl)) != LLAMAC_OK) {
            goto fail;
        }
    } else {
        /* as llama-server: the tool_use variant with tools, ChatML for a model without a template */
        st = llamac_template_for_model(ctx->model, p->tools_json != NULL, &chat->tmpl);
        if (st != LLAMAC_OK) {
            goto fail;
        }
    }
    if ((st = find_end_of_turn(chat)) != LLAMAC_OK) {
        goto fail;
    }
    if (chat->end_of_turn) {
        chat->stops[chat->n_stops++] = chat->end_of_turn;
    }
    chat->gen.stop = (const char *const *)chat->stops;
    chat->gen.n_stop = chat->n_stops;
    /* A template that cannot render a one-message conversation is of no use for chatting: say so now. */
    char *probe = NULL;
    st = llamac__chat_render(chat, "Hello", 5, true, &probe, NULL, NULL, NULL);
    free(probe);
    if (st != LLAMAC_OK) {
        goto fail;
    }
    *out = chat;
    return llamac__ok();
fail:
    llamac_chat_free(chat);
    return st;
}

void llamac_chat_free(llamac_chat *chat) {
    if (!chat) {
        return;
    }
    llamac_template_free(chat->tmpl);
    json_decref(chat->messages);
    free(chat->system);
    free(chat->kwargs_json);
    free(chat->tools_json);
    if (chat->stops) {
        for (size_t i = 0; i < chat->n_stops; i++) {
            if (chat->stops[i] != chat->end_of_turn) {
                free(chat->stops[i]);
            }
        }
        free(chat->stops);
    }
    free(chat->end_of_turn);
    free(chat->sampling_copy);
    free(chat->cache);
    llamac__chat_media_free(chat);
    free(chat);
}

/* ---- the conversation ---- */

static llamac_status append_message(llamac_chat *chat, json_t *m) {
    if (json_array_append_new(chat->messages, m) != 0) {
        return llamac__fail(LLAMAC_E_NO_MEMORY, "out of memory adding a message");
    }
    return llamac__ok();
}

llamac_status llamac_chat_add(llamac_chat *chat, const char *role, const char *content, size_t len) {
    if (!chat || !role || (!content && len > 0)) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "llamac_chat_add: NULL argument");
    }
    if (!llamac_utf8_valid(content ? content : "", len, NULL)) {
        return llamac__fail(LLAMAC_E_UTF8, "message content is not valid UTF-8");
    }
    llamac_status st = llamac__chat_check_marker(chat, content, len);
    if (st != LLAMAC_OK) {
        return st;
    }
    json_t *m = json_object();
    if (!m || json_object_set_new(m, "role", json_string(role)) != 0 ||
        json_object_set_new(m, "content", json_stringn(content ? content : "", len)) != 0) {
        json_decref(m);
        return llamac__fail(LLAMAC_E_NO_MEMORY, "out of memory adding a message");
    }
    st = llamac__chat_check_message(m, false);
    if (st != LLAMAC_OK) {
        json_decref(m);
        return st;
    }
    return append_message(chat, m);
}

llamac_status llamac_chat_add_json(llamac_chat *chat, const char *message_json) {
    if (!chat || !message_json) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "llamac_chat_add_json: NULL argument");
    }
    json_error_t err;
    json_t *m = json_loads(message_json, JSON_DECODE_ANY, &err);
    if (!m) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "the message is not valid JSON (line %d, column %d): %s",
                            err.line, err.column, err.text);
    }
    llamac_status st = llamac__chat_check_message(m, false);
    json_t *c = json_object_get(m, "content");
    if (st == LLAMAC_OK && json_is_string(c)) {
        st = llamac__chat_check_marker(chat, json_string_value(c), json_string_length(c));
    }
    if (st != LLAMAC_OK) {
        json_decref(m);
        return st;
    }
    return append_message(chat, m);
}

llamac_status llamac_chat_set_system(llamac_chat *chat, const char *text, size_t len) {
    if (!chat) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "llamac_chat_set_system: NULL chat");
    }
    char *copy = NULL;
    if (text) {
        if (!llamac_utf8_valid(text, len, NULL)) {
            return llamac__fail(LLAMAC_E_UTF8, "the system prompt is not valid UTF-8");
        }
        llamac_status st = llamac__chat_check_marker(chat, text, len);
        if (st != LLAMAC_OK) {
            return st;
        }
        if (!(copy = llamac__strndup(text, len))) {
            return LLAMAC_E_NO_MEMORY;
        }
    }
    free(chat->system);
    chat->system = copy;
    return llamac__ok();
}

void llamac_chat_clear(llamac_chat *chat) {
    if (chat) {
        llamac__chat_drop_media(chat, json_array_size(chat->messages));
        json_array_clear(chat->messages);
    }
}

size_t llamac_chat_n_messages(const llamac_chat *chat) {
    return chat ? json_array_size(chat->messages) + (chat->system ? 1 : 0) : 0;
}

/* The conversation as rendered: the system prompt first, then the messages, then `pending` as a user message. */
static json_t *full_messages(const llamac_chat *chat, const char *pending, size_t pending_len) {
    json_t *all = json_array();
    if (!all) {
        return NULL;
    }
    if (chat->system &&
        json_array_append_new(all, json_pack("{s:s,s:s}", "role", "system", "content", chat->system)) != 0) {
        json_decref(all);
        return NULL;
    }
    if (json_array_extend(all, chat->messages) != 0) {
        json_decref(all);
        return NULL;
    }
    if (pending &&
        json_array_append_new(all, json_pack("{s:s,s:s%}", "role", "user", "content", pending, pending_len)) != 0) {
        json_decref(all);
        return NULL;
    }
    return all;
}

llamac_status llamac_chat_messages_json(const llamac_chat *chat, char **out) {
    if (out) {
        *out = NULL;
    }
    if (!chat || !out) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "llamac_chat_messages_json: NULL argument");
    }
    json_t *all = full_messages(chat, NULL, 0);
    char *s = all ? json_dumps(all, JSON_COMPACT) : NULL;
    json_decref(all);
    if (!s) {
        return llamac__fail(LLAMAC_E_NO_MEMORY, "out of memory writing the conversation");
    }
    *out = s;
    return llamac__ok();
}

/* ---- rendering and tokenizing ---- */

/* The tokens of the conversation, appended as they are made: a dynbuf of llamac_token, capped at 64 M tokens (far
 * past any context). */
#define TOKS_MAX ((size_t)64 << 20)

static llamac_status toks_push(llamac__dynbuf *t, const llamac_token *v, size_t n) {
    if (!llamac__dynbuf_add(t, v, n * sizeof *v)) {
        return llamac__fail(LLAMAC_E_NO_MEMORY, "out of memory tokenizing the conversation");
    }
    return LLAMAC_OK;
}

static llamac_status tokenize_into(const llamac_chat *chat, llamac__dynbuf *t, const char *s, size_t len,
                                   unsigned flags) {
    if (len == 0 && !(flags & LLAMAC_TOKENIZE_ADD_SPECIAL)) {
        return LLAMAC_OK;
    }
    llamac_token *v = NULL;
    size_t n = 0;
    llamac_status st = llamac_tokenize(chat->ctx->model, s, len, flags, &v, &n);
    if (st == LLAMAC_OK) {
        st = toks_push(t, v, n);
    }
    free(v);
    return st;
}

/* True when `s` holds text that special parsing would turn into a control token. */
static llamac_status has_special_text(const llamac_chat *chat, const char *s, size_t len, bool *out) {
    *out = false;
    if (len == 0) {
        return LLAMAC_OK;
    }
    llamac_token *a = NULL, *b = NULL;
    size_t na = 0, nb = 0;
    llamac_status st = llamac_tokenize(chat->ctx->model, s, len, 0, &a, &na);
    if (st == LLAMAC_OK) {
        st = llamac_tokenize(chat->ctx->model, s, len, LLAMAC_TOKENIZE_PARSE_SPECIAL, &b, &nb);
    }
    if (st == LLAMAC_OK) {
        *out = na != nb || memcmp(a, b, na * sizeof *a) != 0;
    }
    free(a);
    free(b);
    return st;
}

/* Splits the sentinel render into pieces, with each sentinel replaced by its content. False when a sentinel is
 * malformed (the template cut or changed it). */
static bool split_pieces(const char *rs, size_t rs_len, uint32_t salt, const char *const *contents,
                         const size_t *content_lens, size_t n_contents, struct llamac__chat_piece *pieces,
                         size_t *n_pieces, size_t max_pieces) {
    char open[32];
    int open_len = snprintf(open, sizeof open, SENTINEL_OPEN "%08x:", salt);
    size_t np = 0, i = 0, lit = 0;
    while (i < rs_len) {
        const char *at = strstr(rs + i, SENTINEL_OPEN);
        if (!at || (size_t)(at - rs) >= rs_len) {
            break;
        }
        size_t pos = (size_t)(at - rs);
        if (strncmp(at, open, (size_t)open_len) != 0) {
            i = pos + 1; /* someone else's "[[llamac:" text: plain template text */
            continue;
        }
        char *end = NULL;
        unsigned long k = strtoul(at + open_len, &end, 10);
        if (end == at + open_len || end[0] != ']' || end[1] != ']' || k >= n_contents || np + 2 > max_pieces) {
            return false;
        }
        pieces[np++] = (struct llamac__chat_piece){ rs + lit, pos - lit, false };
        pieces[np++] = (struct llamac__chat_piece){ contents[k], content_lens[k], true };
        i = lit = (size_t)(end + 2 - rs);
    }
    if (np + 1 > max_pieces) {
        return false;
    }
    pieces[np++] = (struct llamac__chat_piece){ rs + lit, rs_len - lit, false };
    *n_pieces = np;
    return true;
}

void llamac__chat_rendering_free(struct llamac__chat_rendering *rd) {
    free(rd->pieces);
    free(rd->rs);
    free(rd->r);
    free(rd->contents);
    free(rd->content_lens);
    json_decref(rd->sent);
    json_decref(rd->real);
    memset(rd, 0, sizeof *rd);
}

llamac_status llamac__chat_render_split(llamac_chat *chat, const char *pending, size_t pending_len,
                                        bool add_generation_prompt, bool split, struct llamac__chat_rendering *rd) {
    memset(rd, 0, sizeof *rd);
    llamac_status st = LLAMAC_OK;
    rd->real = full_messages(chat, pending, pending_len);
    rd->sent = json_array();
    size_t n_msgs = rd->real ? json_array_size(rd->real) : 0;
    rd->contents = llamac__calloc(n_msgs + 1, sizeof *rd->contents);
    rd->content_lens = llamac__calloc(n_msgs + 1, sizeof *rd->content_lens);
    if (!rd->real || !rd->sent || !rd->contents || !rd->content_lens) {
        st = llamac__fail(LLAMAC_E_NO_MEMORY, "out of memory rendering the conversation");
        goto done;
    }
    size_t n_contents = 0;
    for (size_t i = 0; i < n_msgs; i++) {
        json_t *m = json_array_get(rd->real, i);
        json_t *c = json_object_get(m, "content");
        json_t *copy = json_copy(m);
        if (!copy || json_array_append_new(rd->sent, copy) != 0) {
            st = llamac__fail(LLAMAC_E_NO_MEMORY, "out of memory rendering the conversation");
            goto done;
        }
        if (json_is_string(c) && json_string_length(c) > 0) {
            char sentinel[64];
            snprintf(sentinel, sizeof sentinel, SENTINEL_OPEN "%08x:%zu]]", chat->salt, n_contents);
            rd->contents[n_contents] = json_string_value(c);
            rd->content_lens[n_contents] = json_string_length(c);
            n_contents++;
            json_object_set_new(copy, "content", json_string(sentinel));
        }
    }
    if ((st = render(chat, rd->real, add_generation_prompt, &rd->r, &rd->r_len)) != LLAMAC_OK || !split) {
        goto done;
    }
    bool any_special = false;
    for (size_t k = 0; k < n_contents && !any_special; k++) {
        if ((st = has_special_text(chat, rd->contents[k], rd->content_lens[k], &any_special)) != LLAMAC_OK) {
            goto done;
        }
    }
    const llamac_model *model = chat->ctx->model;
    rd->add_bos = llama_vocab_get_add_bos(model->vocab);
    rd->add_eos = llama_vocab_get_add_eos(model->vocab);
    if (!any_special) {
        /* The whole prompt as one piece, tokenized with special tokens (as llama.cpp's server does). */
        rd->whole = true;
        rd->pieces = llamac__malloc(sizeof *rd->pieces);
        if (!rd->pieces) {
            st = LLAMAC_E_NO_MEMORY;
            goto done;
        }
        rd->pieces[0] = (struct llamac__chat_piece){ rd->r, rd->r_len, false };
        rd->n_pieces = 1;
    } else {
        /* Some content holds special-token text: find the template's text with the sentinel render and tokenize it
         * apart from the contents. This needs the sentinel render, with contents put back, to be the real one. */
        if ((st = render(chat, rd->sent, add_generation_prompt, &rd->rs, &rd->rs_len)) != LLAMAC_OK) {
            goto done;
        }
        size_t max_pieces = 2 * (rd->rs_len / 8) + 2;
        rd->pieces = llamac__malloc(max_pieces * sizeof *rd->pieces);
        if (!rd->pieces) {
            st = LLAMAC_E_NO_MEMORY;
            goto done;
        }
        bool same = split_pieces(rd->rs, rd->rs_len, chat->salt, rd->contents, rd->content_lens, n_contents, rd->pieces,
                                 &rd->n_pieces, max_pieces);
        size_t at = 0;
        for (size_t i = 0; same && i < rd->n_pieces; i++) {
            same = at + rd->pieces[i].len <= rd->r_len && memcmp(rd->r + at, rd->pieces[i].s, rd->pieces[i].len) == 0;
            at += rd->pieces[i].len;
        }
        if (!same || at != rd->r_len) {
            st = llamac__fail(LLAMAC_E_TEMPLATE,
                              "a message holds special-token text, and the chat template changes message text, so "
                              "it cannot be kept apart from the template's own markers; refusing to render it");
            goto done;
        }
    }
    /* As llama.cpp (llamac_template_apply): drop the BOS/EOS text the template wrote when tokenizing adds them anyway,
     * from the template's first and last pieces only, never from message text. */
    struct llamac__chat_piece *first = &rd->pieces[0], *last = &rd->pieces[rd->n_pieces - 1];
    if (!first->content) {
        size_t skip = llamac__prompt_bos_len(model, first->s, first->len);
        first->s += skip;
        first->len -= skip;
    }
    if (!last->content) {
        last->len -= llamac__prompt_eos_len(model, last->s, last->len);
    }
done:
    if (st != LLAMAC_OK) {
        llamac__chat_rendering_free(rd);
    }
    return st;
}

llamac_status llamac__chat_render(llamac_chat *chat, const char *pending, size_t pending_len,
                                  bool add_generation_prompt, char **text, size_t *text_len, llamac_token **tokens,
                                  size_t *n_tokens) {
    if (text) {
        *text = NULL;
    }
    if (text_len) {
        *text_len = 0;
    }
    if (tokens) {
        *tokens = NULL;
    }
    if (n_tokens) {
        *n_tokens = 0;
    }
    if (tokens && chat->n_media > 0) {
        return llamac__fail(LLAMAC_E_UNSUPPORTED,
                            "the conversation holds media, which have no tokens of their own (only text prompts can "
                            "be tokenized or prefilled)");
    }
    struct llamac__chat_rendering rd = { 0 };
    llamac__dynbuf t = LLAMAC__DYNBUF(TOKS_MAX * sizeof(llamac_token));
    llamac_status st =
        llamac__chat_render_split(chat, pending, pending_len, add_generation_prompt, tokens != NULL, &rd);
    if (st != LLAMAC_OK || !tokens) {
        goto done;
    }
    if (rd.whole) {
        st = tokenize_into(chat, &t, rd.pieces[0].s, rd.pieces[0].len,
                           LLAMAC_TOKENIZE_ADD_SPECIAL | LLAMAC_TOKENIZE_PARSE_SPECIAL);
        goto done;
    }
    const llamac_model *model = chat->ctx->model;
    llama_token special_bos = llama_vocab_bos(model->vocab), special_eos = llama_vocab_eos(model->vocab);
    if (rd.add_bos && special_bos != LLAMA_TOKEN_NULL && (st = toks_push(&t, &special_bos, 1)) != LLAMAC_OK) {
        goto done;
    }
    for (size_t i = 0; i < rd.n_pieces; i++) {
        unsigned flags = rd.pieces[i].content ? 0u : LLAMAC_TOKENIZE_PARSE_SPECIAL;
        if ((st = tokenize_into(chat, &t, rd.pieces[i].s, rd.pieces[i].len, flags)) != LLAMAC_OK) {
            goto done;
        }
    }
    if (rd.add_eos && special_eos != LLAMA_TOKEN_NULL) {
        st = toks_push(&t, &special_eos, 1);
    }
done:
    if (st == LLAMAC_OK && tokens) {
        size_t bytes = 0;
        *tokens = (llamac_token *)(void *)llamac__dynbuf_take(&t, &bytes);
        *n_tokens = bytes / sizeof **tokens;
        if (!*tokens) {
            st = llamac__fail(LLAMAC_E_NO_MEMORY, "out of memory tokenizing the conversation");
        }
    }
    if (st == LLAMAC_OK) {
        if (text) {
            *text = rd.r;
            rd.r = NULL;
        }
        if (text_len) {
            *text_len = rd.r_len;
        }
    }
    llamac__chat_rendering_free(&rd);
    llamac__dynbuf_free(&t);
    return st;
}

llamac_status llamac__chat_stable_tokens(llamac_chat *chat, const char *pending, size_t pending_len,
                                         const llamac_token *tokens, size_t n_tokens, size_t margin, size_t *n_stable) {
    *n_stable = 0;
    json_t *msgs = full_messages(chat, pending, pending_len);
    if (!msgs) {
        return llamac__fail(LLAMAC_E_NO_MEMORY, "out of memory rendering the conversation");
    }
    llamac_template_apply_params p = apply_params(chat, true);
    llamac_status st =
        llamac__template_stable_tokens(chat->tmpl, chat->ctx->model, &p, msgs, tokens, n_tokens, margin, n_stable);
    json_decref(msgs);
    return st;
}

llamac_status llamac_chat_prompt(llamac_chat *chat, char **text, size_t *len, llamac_token **tokens, size_t *n_tokens) {
    if (!chat || (tokens && !n_tokens)) {
        if (text) {
            *text = NULL;
        }
        if (tokens) {
            *tokens = NULL;
        }
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "llamac_chat_prompt: NULL argument");
    }
    llamac_status st = llamac__chat_render(chat, NULL, 0, true, text, len, tokens, n_tokens);
    return st == LLAMAC_OK ? llamac__ok() : st;
}

/* ---- the cache ---- */

size_t llamac__chat_common_prefix(const llamac_chat *chat, const llamac_token *tokens, size_t n) {
    if (chat->cache_key != llamac__ctx_adapter_key(chat->ctx)) {
        return 0; /* computed under other adapters or scales: none of it is valid now */
    }
    size_t n_text = 0; /* the cached items before the first medium (or a position that is not its index) */
    while (n_text < chat->n_cache &&
           (!chat->cache_media || (chat->cache_media[n_text] == 0 && chat->cache_pos[n_text] == (llama_pos)n_text))) {
        n_text++;
    }
    return llamac__common_prefix(chat->cache, n_text, tokens, n);
}

void llamac__chat_cache_sync(llamac_chat *chat) {
    llama_pos max = llama_memory_seq_pos_max(llama_get_memory(chat->ctx->lc), chat->gen.seq);
    if (chat->cache_pos) { /* items carry their positions (a medium's all its first one) */
        size_t keep = 0;
        while (keep < chat->n_cache && chat->cache_pos[keep] <= max) {
            keep++;
        }
        chat->n_cache = keep;
        return;
    }
    size_t held = max < 0 ? 0 : (size_t)max + 1;
    if (chat->n_cache > held) {
        chat->n_cache = held;
    }
}

/* ---- eviction ---- */

static bool is_role(json_t *m, const char *role) {
    const char *r = json_string_value(json_object_get(m, "role"));
    return r && strcmp(r, role) == 0;
}

/* Drops the oldest turns so that `keep` remain (a turn starts at a user message). Returns the messages dropped. */
static size_t evict_to(llamac_chat *chat, size_t keep) {
    size_t n = json_array_size(chat->messages), turns = 0;
    for (size_t i = 0; i < n; i++) {
        turns += is_role(json_array_get(chat->messages, i), "user");
    }
    if (turns <= keep) {
        return 0;
    }
    size_t skip = turns - keep, cut = 0;
    for (size_t i = 0; i < n; i++) {
        if (is_role(json_array_get(chat->messages, i), "user") && skip-- == 0) {
            cut = i;
            break;
        }
    }
    llamac__chat_drop_media(chat, cut);
    for (size_t i = 0; i < cut; i++) {
        json_array_remove(chat->messages, 0);
    }
    return cut;
}

static size_t count_turns(const llamac_chat *chat) {
    size_t turns = 0;
    for (size_t i = 0; i < json_array_size(chat->messages); i++) {
        turns += is_role(json_array_get(chat->messages, i), "user");
    }
    return turns;
}

/* ---- generation ---- */

/* The reply as it is generated, for the conversation, passed on to the caller's callback. */
struct collect {
    llamac_text_fn fn;
    void *user_data;
    llamac__dynbuf text; /* capped at 1 KiB per token of the context: a token's text is at most 256 bytes */
};

static bool collect_text(const char *text, size_t len, void *user_data) {
    struct collect *c = user_data;
    if (!llamac__dynbuf_add(&c->text, text, len)) {
        return false;
    }
    return c->fn ? c->fn(text, len, c->user_data) : true;
}

/* The next prompt: text tokens, or chunks when the conversation holds media; `size` is what it takes of the
 * context (for chunks, the larger of its tokens and positions). */
struct next_prompt {
    char *text; /* the rendered prompt (llamac_free) */
    llamac_token *tokens;
    llamac_chunks *chunks;
    size_t n;
    size_t size;
};

static void next_prompt_free(struct next_prompt *p) {
    llamac_free(p->text);
    free(p->tokens);
    llamac_chunks_free(p->chunks);
    memset(p, 0, sizeof *p);
}

static llamac_status next_prompt(llamac_chat *chat, struct next_prompt *p) {
    memset(p, 0, sizeof *p);
    if (chat->n_media == 0) {
        llamac_status st = llamac__chat_render(chat, NULL, 0, true, &p->text, NULL, &p->tokens, &p->n);
        p->size = p->n;
        return st;
    }
    llamac_status st = llamac__chat_chunks(chat, &p->chunks);
    if (st == LLAMAC_OK) {
        p->n = llamac_chunks_n_tokens(p->chunks);
        size_t pos = (size_t)llamac_chunks_n_pos(p->chunks);
        p->size = p->n > pos ? p->n : pos;
    }
    return st;
}

/* A reasoning budget's thinking tags from the session's template and the prompt, unless the caller gave its own;
 * only when the budget applies (the text of a prompt with media is rendered for it). */
static llamac_status budget_tags(llamac_chat *chat, struct next_prompt *np, llamac_reasoning_budget *rb) {
    if (rb->start || (rb->tokens < 0 && !chat->gen.sampling.grammar_lazy)) {
        return LLAMAC_OK;
    }
    if (!np->text) {
        llamac_status st = llamac__chat_render(chat, NULL, 0, true, &np->text, NULL, NULL, NULL);
        if (st != LLAMAC_OK) {
            return st;
        }
    }
    return llamac_template_reasoning_budget(chat->tmpl, np->text, rb);
}

llamac_status llamac_chat_generate(llamac_chat *chat, llamac_text_fn on_text, void *user_data,
                                   llamac_chat_result *result) {
    if (result) {
        memset(result, 0, sizeof *result);
    }
    if (!chat) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "llamac_chat_generate: NULL chat");
    }
    size_t n_msgs = json_array_size(chat->messages);
    json_t *last = n_msgs ? json_array_get(chat->messages, n_msgs - 1) : NULL;
    if (!last || !(is_role(last, "user") || is_role(last, "tool"))) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT,
                            "there is nothing to answer: the last message must be from the user or a tool");
    }
    llamac_context *ctx = chat->ctx;
    size_t cap = chat->cap_cache;
    size_t reserve = (size_t)chat->reserve_tokens;
    if (reserve == 0) {
        reserve = chat->gen.max_tokens >= 0 ? (size_t)chat->gen.max_tokens : cap / 4;
        if (reserve > cap / 2) {
            reserve = cap / 2;
        }
    }
    struct next_prompt np = { 0 };
    llamac_token *decoded = NULL;
    size_t n_evicted = 0, lcp = 0, n_dec = 0;
    struct collect col = { on_text, user_data, LLAMAC__DYNBUF((size_t)cap * 1024) };
    llamac_generate_result res;
    memset(&res, 0, sizeof res);
    llamac_status st;
    for (;;) {
        if ((st = next_prompt(chat, &np)) != LLAMAC_OK) {
            goto done;
        }
        if (np.size + reserve <= cap) {
            break;
        }
        /* Too long: keep the last keep_last_turns turns, then, if that is not enough, fewer, down to one. */
        size_t turns = count_turns(chat);
        size_t keep = turns == 0                              ? 0
                      : turns > (size_t)chat->keep_last_turns ? (size_t)chat->keep_last_turns
                                                              : turns - 1;
        size_t dropped = keep >= 1 ? evict_to(chat, keep) : 0;
        if (dropped == 0) {
            if (np.size < cap) {
                break; /* no turn left to evict; the reply gets what room there is */
            }
            st = llamac__fail(LLAMAC_E_CONTEXT_FULL,
                              "the prompt is %zu tokens even with only the system prompt and the last turn; the "
                              "context holds %zu",
                              np.size, cap);
            goto done;
        }
        n_evicted += dropped;
        next_prompt_free(&np);
    }
    if (np.n == 0) {
        st = llamac__fail(LLAMAC_E_TEMPLATE, "the chat template rendered the conversation as nothing");
        goto done;
    }
    llamac_generate_params gp = chat->gen;
    gp.on_text = collect_text;
    gp.user_data = &col;
    if ((st = budget_tags(chat, &np, &gp.sampling.reasoning_budget)) != LLAMAC_OK) {
        goto done;
    }
    if (np.chunks) {
        st = llamac__chat_generate_chunks(chat, np.chunks, &gp, &res, &lcp);
    } else {
        const llamac_token *tokens = np.tokens;
        size_t n = np.n;
        llamac__chat_cache_sync(chat);
        lcp = llamac__chat_common_prefix(chat, tokens, n);
        if (lcp >= n) {
            lcp = n - 1; /* decode the last token again: its logits start the reply */
        }
        decoded = llamac__malloc((cap + 1) * sizeof *decoded);
        if (!decoded) {
            st = LLAMAC_E_NO_MEMORY;
            goto done;
        }
        st = llamac__generate_from(ctx, tokens, n, lcp, &gp, &res, decoded, cap, &n_dec);
        if (st == LLAMAC_E_UNSUPPORTED && lcp > 0) {
            lcp = 0; /* memory that cannot drop a tail (recurrent models): start the sequence over */
            st = llamac__generate_from(ctx, tokens, n, 0, &gp, &res, decoded, cap, &n_dec);
        }
        if (st != LLAMAC_OK) {
            /* What the sequence holds past the common prefix is unknown now: drop it. */
            llama_memory_seq_rm(llama_get_memory(ctx->lc), chat->gen.seq, (llama_pos)lcp, -1);
            chat->n_cache = lcp < chat->n_cache ? lcp : chat->n_cache;
        } else {
            memcpy(chat->cache, tokens, n * sizeof *tokens);
            size_t extra = n_dec < cap - n ? n_dec : cap - n;
            memcpy(chat->cache + n, decoded, extra * sizeof *decoded);
            chat->n_cache = n + extra;
            llamac__chat_cache_mark_text(chat, 0, chat->n_cache);
            chat->cache_key = llamac__ctx_adapter_key(ctx);
            llamac__chat_cache_sync(chat);
        }
    }
    if (st == LLAMAC_OK && llamac__dynbuf_error(&col.text)) {
        st = llamac__fail(LLAMAC_E_NO_MEMORY, "out of memory collecting the reply");
    }
    if (st != LLAMAC_OK) {
        goto done;
    }
    json_t *reply = json_pack("{s:s,s:s%}", "role", "assistant", "content", llamac__dynbuf_ptr(&col.text),
                              llamac__dynbuf_len(&col.text));
    if (!reply || json_array_append_new(chat->messages, reply) != 0) {
        st = llamac__fail(LLAMAC_E_NO_MEMORY, "out of memory storing the reply");
        goto done;
    }
    llamac__ok();
done:
    if (result) {
        result->gen = res;
        result->n_reused_tokens = (int32_t)lcp;
        result->n_decoded_tokens = (int32_t)(np.n > lcp ? np.n - lcp : 0);
        result->n_evicted_messages = (int32_t)n_evicted;
        if (st != LLAMAC_OK) {
            result->gen.finish_reason = LLAMAC_FINISH_NONE;
        }
    }
    llamac__dynbuf_free(&col.text);
    next_prompt_free(&np);
    free(decoded);
    return st;
}
