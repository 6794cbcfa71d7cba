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
    /* Multimodal (chat_media.c), with a projector only. The cache's items are then text tokens or the tokens of a
     * medium (cache[i] is the token's index inside the medium), and carry their positions, which M-RoPE makes
     * differ from their index. */
    llamac_mmproj *proj;  /* a reference; NULL: text only */
    char marker[48];      /* stands for a medium in message contents; unique to the session */
    llamac_media **media; /* the conversation's media, in the order of their markers (references) */
    size_t n_media;
    size_t cap_media;
    uint32_t *cache_media; /* per cached item: 0 for text, else 1 + the index of its medium's id in media_ids */
    llama_pos *cache_pos;  /* per cached item: its position (a medium's items: the medium's first position) */
    char (*media_ids)[65]; /* the ids of the media the cache has held */
    size_t n_ids;
    size_t cap_ids;
};

/* One stretch of a rendered prompt: the template's text, or a message's content (never special tokens). */
struct llamac__chat_piece {
    const char *s;
    size_t len;
    bool content;
};

/* A conversation rendered and split into the stretches that are tokenized apart. */
struct llamac__chat_rendering {
    char *r; /* the render */
    size_t r_len;
    bool whole; /* no content holds special-token text: one piece, tokenized with special tokens */
    struct llamac__chat_piece *pieces; /* the render, its BOS text (when the model adds a BOS) and EOS text dropped */
    size_t n_pieces;
    bool add_bos, add_eos; /* the vocabulary adds them */
    /* what the pieces point into */
    char *rs;
    size_t rs_len;
    json_t *real, *sent;
    const char **contents;
    size_t *content_lens;
};

/* Renders the conversation (+ `pending`, as for llamac__chat_render) into rd->r; with `split`, into pieces too.
 * Free with llamac__chat_rendering_free (also after a failure). */
llamac_status llamac__chat_render_split(llamac_chat *chat, const char *pending, size_t pending_len,
                                        bool add_generation_prompt, bool split, struct llamac__chat_rendering *rd);
void llamac__chat_rendering_free(struct llamac__chat_rendering *rd);

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

/* ---- multimodal (chat_media.c) ---- */

/* Takes a reference to `proj` and sets up the media state (the session's marker, the cache's item records). */
llamac_status llamac__chat_media_init(llamac_chat *chat, llamac_mmproj *proj);
void llamac__chat_media_free(llamac_chat *chat);

/* Refuses text holding the session's media marker (it would be taken for a medium). */
llamac_status llamac__chat_check_marker(const llamac_chat *chat, const char *text, size_t len);

/* Drops the media of the messages about to be removed: the first `n_messages` messages. */
void llamac__chat_drop_media(llamac_chat *chat, size_t n_messages);

/* Records cache items [from, to) as text tokens at positions equal to their index (the text path). */
void llamac__chat_cache_mark_text(llamac_chat *chat, size_t from, size_t to);

/* The conversation (with the generation prompt) as chunks of text and media. *out: llamac_chunks_free. */
llamac_status llamac__chat_chunks(llamac_chat *chat, llamac_chunks **out);

/* llamac_chat_generate's evaluation and generation for a prompt with media: reuses the cached items it shares with
 * `chunks` (whole media only), generates, and records the prompt and the decoded reply in the cache. *n_reused:
 * the prompt's tokens that were cached. */
llamac_status llamac__chat_generate_chunks(llamac_chat *chat, const llamac_chunks *chunks,
                                           const llamac_generate_params *gp, llamac_generate_result *res,
                                           size_t *n_reused);

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
