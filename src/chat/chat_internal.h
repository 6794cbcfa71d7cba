/*
 * chat_internal.h - the chat session's state, shared by the files of src/chat (and by incremental prefill).
 *
 * The conversation is a jansson array of OpenAI-format messages (the system prompt is kept apart and put first
 * when rendering). `cache` mirrors what the session's sequence holds in the KV cache, token for token, so that a
 * new prompt is decoded only after its longest common prefix with it.
 */
#ifndef LLAMAC_CHAT_INTERNAL_H
#define LLAMAC_CHAT_INTERNAL_H

#include "core/internal.h"

#include <jansson.h>

struct llamac_chat {
    llamac_context *ctx;
    llamac_template *tmpl;
    char *system;      /* NULL: no system prompt */
    json_t *messages;  /* array of message objects, the system prompt excluded */
    char *kwargs_json; /* NULL: none */
    char *tools_json;  /* NULL: none */
    int32_t keep_last_turns;
    int32_t reserve_tokens;
    llamac_generate_params gen; /* stop points to `stops`, sampling.grammar / logit_bias to the copies below */
    char **stops;               /* the caller's stop strings, then the template's end-of-turn text */
    size_t n_stops;
    char *grammar;
    llamac_logit_bias *bias;
    char *end_of_turn;   /* the template's end-of-turn text ("<|im_end|>"), or NULL */
    uint32_t salt;       /* makes the content sentinels unique to this session */
    llamac_token *cache; /* the tokens of the sequence, from position 0 */
    size_t n_cache;
    size_t cap_cache; /* capacity of `cache`: the sequence's context size */
};

/* Renders the conversation, followed by a user message `pending` (len bytes, borrowed; NULL: none) that is not
 * stored, and tokenizes it as llamac_chat_generate would: message contents never become special tokens.
 * Either output pair may be NULL; outputs are caller frees with free(). */
llamac_status llamac__chat_render(llamac_chat *chat, const char *pending, size_t pending_len,
                                  bool add_generation_prompt, char **text, size_t *text_len, llamac_token **tokens,
                                  size_t *n_tokens);

/* Length of the longest common prefix of the session's cached tokens and `tokens`. */
size_t llamac__chat_common_prefix(const llamac_chat *chat, const llamac_token *tokens, size_t n);

/* Makes chat->cache agree with the sequence: drops tracked tokens past the sequence's last position. */
void llamac__chat_cache_sync(llamac_chat *chat);

/* Checks an OpenAI-format message object (role user/assistant/tool, or system when `allow_system`; content a
 * valid UTF-8 string or null). */
llamac_status llamac__chat_check_message(const json_t *m, bool allow_system);

#endif /* LLAMAC_CHAT_INTERNAL_H */
