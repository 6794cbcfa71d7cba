/*
 * chat_internal.h - what the files of src/chat share: the chat session's state (chat.c, chat_state.c, prefill.c)
 * and the steps of rendering a conversation into a prompt (render.c).
 *
 * The conversation is a jansson array of OpenAI-format messages (the system prompt is kept apart and put first
 * when rendering). `cache` mirrors what the session's sequence holds in the KV cache, token for token, so that a
 * new prompt is decoded only after its longest common prefix with it.
 */
#ifndef LLAMAC_CHAT_INTERNAL_H
#define LLAMAC_CHAT_INTERNAL_H

#include "adapter/adapter_internal.h"
#include "core/internal.h"

#include <jansson.h>

struct llamac_chat {
    llamac_context *ctx;
    llamac_template *tmpl;
    char *system;      /* NULL: no system prompt */
    json_t *messages;  /* array of message objects, the system prompt excluded */
    char *kwargs_json; /* NULL: none */
    llamac_thinking thinking;
    char *tools_json; /* NULL: none */
    int32_t keep_last_turns;
    int32_t reserve_tokens;
    llamac_generate_params gen; /* stop points to `stops`, what sampling points to into `sampling_copy` */
    char **stops;               /* the caller's stop strings, then the template's end-of-turn text */
    size_t n_stops;
    void *sampling_copy; /* the caller's grammar, logit biases and grammar triggers, copied */
    char *end_of_turn;   /* the template's end-of-turn text ("<|im_end|>"), or NULL */
    uint32_t salt;       /* makes the content sentinels unique to this session */
    llamac_token *cache; /* the tokens of the sequence, from position 0 */
    size_t n_cache;
    size_t cap_cache;   /* capacity of `cache`: the sequence's context size */
    uint64_t cache_key; /* the adapters the cached cells were computed under (adapter_internal.h's keys): when the
                           context's differ, nothing is reused */
};

/* Renders the conversation, followed by a user message `pending` (len bytes, borrowed; NULL: none) that is not
 * stored, and tokenizes it as llamac_chat_generate would: message contents never become special tokens.
 * Either output pair may be NULL; outputs are caller frees with free(). */
llamac_status llamac__chat_render(llamac_chat *chat, const char *pending, size_t pending_len,
                                  bool add_generation_prompt, char **text, size_t *text_len, llamac_token **tokens,
                                  size_t *n_tokens);

/* llamac_template_stable_tokens for the conversation followed by the user message `pending` being typed: how many of
 * `tokens` (its render, tokenized by llamac__chat_render) stay when more is typed, less `margin`. */
llamac_status llamac__chat_stable_tokens(llamac_chat *chat, const char *pending, size_t pending_len,
                                         const llamac_token *tokens, size_t n_tokens, size_t margin, size_t *n_stable);

/* Length of the longest common prefix of the session's cached tokens and `tokens`. */
size_t llamac__chat_common_prefix(const llamac_chat *chat, const llamac_token *tokens, size_t n);

/* Makes chat->cache agree with the sequence: drops tracked tokens past the sequence's last position. */
void llamac__chat_cache_sync(llamac_chat *chat);

/* Checks an OpenAI-format message object (role user/assistant/tool, or system when `allow_system`; content a
 * valid UTF-8 string or null). */
llamac_status llamac__chat_check_message(const json_t *m, bool allow_system);

/* The chat layer (layer.c): llamac_template_apply with the messages parsed (`messages`, borrowed, replaces
 * p->messages_json when not NULL) and the BOS/EOS text of `model` (may be NULL) dropped only when `strip`. *out is
 * caller frees with free(). Errors: as llamac_template_apply. */
llamac_status llamac__template_apply(const llamac_template *tmpl, const llamac_model *model,
                                     const llamac_template_apply_params *p, json_t *messages, bool strip, char **out,
                                     size_t *len);

/* llamac_template_stable_tokens with the messages parsed (`messages`, borrowed, replaces p->messages_json when not
 * NULL). */
llamac_status llamac__template_stable_tokens(const llamac_template *tmpl, const llamac_model *model,
                                             const llamac_template_apply_params *p, json_t *messages,
                                             const llamac_token *tokens, size_t n_tokens, size_t margin,
                                             size_t *n_stable);

/* The bytes of the model's BOS text at the start of `s` (len bytes) that a rendered prompt drops because tokenizing
 * adds the BOS token, and of its EOS text at the end, likewise: llama.cpp's rule (0 when the model adds none, or
 * the text is not there). */
size_t llamac__prompt_bos_len(const llamac_model *model, const char *s, size_t len);
size_t llamac__prompt_eos_len(const llamac_model *model, const char *s, size_t len);

#endif /* LLAMAC_CHAT_INTERNAL_H */
