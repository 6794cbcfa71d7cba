/*
 * chat_media.c - chat sessions with images and audio: user messages made of text and media, rendered, tokenized into
 * chunks and evaluated from what the sequence already holds.
 *
 * A medium enters a message's content as the session's marker, a string unique to the session (as llama-server's
 * random marker), so the template renders it as text and no user text can pass for one. The render is split where the
 * markers are, and the pieces between them are tokenized as the text path does (the whole prompt with special tokens,
 * or, when a content holds special-token text, the template's text apart from the contents), then handed with the
 * media to libmtmd. The cache records for each item of the sequence whether it is a text token or part of a medium
 * (by the medium's id) and its position, so a later turn reuses every whole medium and token it shares with the new
 * prompt, and M-RoPE's positions stay right.
 */
#include "chat/chat_internal.h"
#include "gen/gen_internal.h"
#include "media/media_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

llamac_status llamac__chat_media_init(llamac_chat *chat, llamac_mmproj *proj) {
    if (proj->model != chat->ctx->model) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "the projector was loaded for another model than the context's");
    }
    chat->cache_media = llamac__calloc(chat->cap_cache + 1, sizeof *chat->cache_media);
    chat->cache_pos = llamac__calloc(chat->cap_cache + 1, sizeof *chat->cache_pos);
    if (!chat->cache_media || !chat->cache_pos) {
        return LLAMAC_E_NO_MEMORY;
    }
    snprintf(chat->marker, sizeof chat->marker, "<__llamac_media_%08x__>", chat->salt);
    chat->proj = proj;
    llamac__mmproj_ref(proj);
    return LLAMAC_OK;
}

void llamac__chat_media_free(llamac_chat *chat) {
    for (size_t i = 0; i < chat->n_media; i++) {
        llamac_media_free(chat->media[i]);
    }
    free(chat->media);
    free(chat->cache_media);
    free(chat->cache_pos);
    free(chat->media_ids);
    llamac__mmproj_unref(chat->proj);
}

static size_t count_marker(const char *text, size_t len, const char *marker) {
    return llamac__count_marker(text, len, marker, strlen(marker));
}

llamac_status llamac__chat_check_marker(const llamac_chat *chat, const char *text, size_t len) {
    if (chat->proj && text && count_marker(text, len, chat->marker) > 0) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "the text holds the session's media marker \"%s\"",
                            chat->marker);
    }
    return LLAMAC_OK;
}

void llamac__chat_drop_media(llamac_chat *chat, size_t n_messages) {
    if (chat->n_media == 0) {
        return;
    }
    size_t drop = 0;
    for (size_t i = 0; i < n_messages && i < json_array_size(chat->messages); i++) {
        json_t *c = json_object_get(json_array_get(chat->messages, i), "content");
        if (json_is_string(c)) {
            drop += count_marker(json_string_value(c), json_string_length(c), chat->marker);
        }
    }
    drop = drop < chat->n_media ? drop : chat->n_media;
    for (size_t i = 0; i < drop; i++) {
        llamac_media_free(chat->media[i]);
    }
    memmove(chat->media, chat->media + drop, (chat->n_media - drop) * sizeof *chat->media);
    chat->n_media -= drop;
}

void llamac__chat_cache_mark_text(llamac_chat *chat, size_t from, size_t to) {
    if (!chat->cache_media) {
        return;
    }
    for (size_t i = from; i < to; i++) {
        chat->cache_media[i] = 0;
        chat->cache_pos[i] = (llama_pos)i;
    }
}

/* ---- adding a message with media ---- */

static llamac_status push_media(llamac_chat *chat, llamac_media *m) {
    if (chat->n_media == chat->cap_media) {
        size_t cap = chat->cap_media ? 2 * chat->cap_media : 8;
        llamac_media **p = realloc(chat->media, cap * sizeof *p);
        if (!p) {
            return llamac__fail(LLAMAC_E_NO_MEMORY, "out of memory adding a medium");
        }
        chat->media = p;
        chat->cap_media = cap;
    }
    llamac__media_ref(m);
    chat->media[chat->n_media++] = m;
    return LLAMAC_OK;
}

llamac_status llamac_chat_add_parts(llamac_chat *chat, const char *role, const llamac_chat_part *parts, size_t n) {
    if (!chat || !role || (!parts && n > 0)) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "llamac_chat_add_parts: NULL argument");
    }
    if (strcmp(role, "user") != 0) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "messages with media are from the user, not \"%s\"", role);
    }
    size_t len = 0;
    for (size_t i = 0; i < n; i++) {
        const llamac_chat_part *p = &parts[i];
        if ((p->media != NULL) == (p->text != NULL || p->len > 0)) {
            return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "part %zu must hold either text or a medium", i);
        }
        if (p->media) {
            if (!chat->proj) {
                return llamac__fail(LLAMAC_E_UNSUPPORTED,
                                    "the session has no projector for media (set mmproj in llamac_chat_params)");
            }
            llamac_media_info info;
            llamac_media_get_info(p->media, &info);
            llamac_mmproj_info pi = chat->proj->info;
            bool audio = info.type == LLAMAC_MEDIA_AUDIO;
            if ((audio && (!pi.audio || info.sample_rate != pi.audio_sample_rate)) || (!audio && !pi.vision)) {
                return llamac__fail(LLAMAC_E_UNSUPPORTED, "part %zu is %s, which the session's projector does not take",
                                    i, audio ? "audio" : "an image");
            }
            len += strlen(chat->marker);
            continue;
        }
        if (!llamac_utf8_valid(p->text, p->len, NULL)) {
            return llamac__fail(LLAMAC_E_UTF8, "part %zu is not valid UTF-8", i);
        }
        llamac_status st = llamac__chat_check_marker(chat, p->text, p->len);
        if (st != LLAMAC_OK) {
            return st;
        }
        len += p->len;
    }
    char *content = llamac__malloc(len + 1);
    if (!content) {
        return LLAMAC_E_NO_MEMORY;
    }
    size_t at = 0;
    for (size_t i = 0; i < n; i++) {
        const char *s = parts[i].media ? chat->marker : parts[i].text;
        size_t k = parts[i].media ? strlen(chat->marker) : parts[i].len;
        memcpy(content + at, s, k);
        at += k;
    }
    json_t *m = json_pack("{s:s,s:s%}", "role", "user", "content", content, len);
    free(content);
    if (!m) {
        return llamac__fail(LLAMAC_E_NO_MEMORY, "out of memory adding a message");
    }
    size_t had = chat->n_media;
    llamac_status st = LLAMAC_OK;
    for (size_t i = 0; i < n && st == LLAMAC_OK; i++) {
        if (parts[i].media) {
            st = push_media(chat, parts[i].media);
        }
    }
    if (st == LLAMAC_OK && json_array_append_new(chat->messages, m) != 0) {
        m = NULL;
        st = llamac__fail(LLAMAC_E_NO_MEMORY, "out of memory adding a message");
    } else if (st != LLAMAC_OK) {
        json_decref(m);
    }
    if (st != LLAMAC_OK) {
        while (chat->n_media > had) {
            llamac_media_free(chat->media[--chat->n_media]);
        }
        return st;
    }
    return llamac__ok();
}

/* ---- the prompt as chunks ---- */

/* A growable list of prompt parts. */
struct parts {
    struct llamac__prompt_part *v;
    size_t n, cap;
};

static llamac_status parts_push(struct parts *p, struct llamac__prompt_part part) {
    if (p->n == p->cap) {
        size_t cap = p->cap ? 2 * p->cap : 16;
        struct llamac__prompt_part *v = realloc(p->v, cap * sizeof *v);
        if (!v) {
            return llamac__fail(LLAMAC_E_NO_MEMORY, "out of memory tokenizing the conversation");
        }
        p->v = v;
        p->cap = cap;
    }
    p->v[p->n++] = part;
    return LLAMAC_OK;
}

llamac_status llamac__chat_chunks(llamac_chat *chat, llamac_chunks **out) {
    *out = NULL;
    struct llamac__chat_rendering rd = { 0 };
    struct parts parts = { NULL, 0, 0 };
    llamac_status st = llamac__chat_render_split(chat, NULL, 0, true, true, &rd);
    const char *marker = chat->marker;
    size_t mlen = strlen(marker), k = 0;
    for (size_t i = 0; st == LLAMAC_OK && i < rd.n_pieces; i++) {
        const struct llamac__chat_piece *pc = &rd.pieces[i];
        bool special = rd.whole || !pc->content;
        size_t from = 0;
        for (size_t j = 0; st == LLAMAC_OK && j + mlen <= pc->len;) {
            if (memcmp(pc->s + j, marker, mlen) != 0) {
                j++;
                continue;
            }
            if (k >= chat->n_media) {
                break;
            }
            st = parts_push(&parts, (struct llamac__prompt_part){ pc->s + from, j - from, special, NULL });
            if (st == LLAMAC_OK) {
                st = parts_push(&parts, (struct llamac__prompt_part){ NULL, 0, false, chat->media[k++] });
            }
            j += mlen;
            from = j;
        }
        if (st == LLAMAC_OK && from < pc->len) {
            st = parts_push(&parts, (struct llamac__prompt_part){ pc->s + from, pc->len - from, special, NULL });
        }
    }
    if (st == LLAMAC_OK && (k != chat->n_media || count_marker(rd.r, rd.r_len, marker) != chat->n_media)) {
        st = llamac__fail(LLAMAC_E_TEMPLATE,
                          "the chat template changed or dropped the markers of the conversation's %zu media (the "
                          "render holds %zu)",
                          chat->n_media, count_marker(rd.r, rd.r_len, marker));
    }
    if (st == LLAMAC_OK) {
        st = llamac__mmproj_tokenize_parts(chat->proj, parts.v, parts.n, true, out); /* BOS/EOS as the model asks */
    }
    free(parts.v);
    llamac__chat_rendering_free(&rd);
    return st;
}

/* ---- generation ---- */

/* The index of `id` in the session's table of ids, added when new; UINT32_MAX when out of memory. */
static uint32_t id_index(llamac_chat *chat, const char *id) {
    for (size_t i = 0; i < chat->n_ids; i++) {
        if (strcmp(chat->media_ids[i], id) == 0) {
            return (uint32_t)i;
        }
    }
    if (chat->n_ids == chat->cap_ids) {
        size_t cap = chat->cap_ids ? 2 * chat->cap_ids : 8;
        char(*p)[65] = realloc(chat->media_ids, cap * sizeof *p);
        if (!p) {
            return UINT32_MAX;
        }
        chat->media_ids = p;
        chat->cap_ids = cap;
    }
    snprintf(chat->media_ids[chat->n_ids], sizeof chat->media_ids[0], "%s", id ? id : "");
    return (uint32_t)chat->n_ids++;
}

/* The prompt's items as the cache records them, with the chunk each starts. */
struct items {
    llamac_token *tok;
    uint32_t *media;
    llama_pos *pos;
    size_t *chunk; /* the chunk of each item */
    size_t n;
    llama_pos end; /* the position after the prompt */
};

static void items_free(struct items *it) {
    free(it->tok);
    free(it->media);
    free(it->pos);
    free(it->chunk);
}

static llamac_status build_items(llamac_chat *chat, const llamac_chunks *chunks, struct items *it) {
    size_t n = llamac_chunks_n_tokens(chunks);
    it->tok = llamac__malloc((n + 1) * sizeof *it->tok);
    it->media = llamac__malloc((n + 1) * sizeof *it->media);
    it->pos = llamac__malloc((n + 1) * sizeof *it->pos);
    it->chunk = llamac__malloc((n + 1) * sizeof *it->chunk);
    if (!it->tok || !it->media || !it->pos || !it->chunk) {
        return LLAMAC_E_NO_MEMORY;
    }
    llama_pos pos = 0;
    size_t k = 0;
    for (size_t c = 0; c < llamac_chunks_count(chunks); c++) {
        llamac_chunk_info ci;
        llamac_chunks_get(chunks, c, &ci);
        uint32_t mid = 0;
        if (ci.type != LLAMAC_CHUNK_TEXT) {
            uint32_t idx = id_index(chat, ci.id);
            if (idx == UINT32_MAX) {
                return llamac__fail(LLAMAC_E_NO_MEMORY, "out of memory recording a medium");
            }
            mid = idx + 1;
        }
        for (size_t j = 0; j < ci.n_tokens; j++, k++) {
            it->tok[k] = ci.type == LLAMAC_CHUNK_TEXT ? ci.tokens[j] : (llamac_token)j;
            it->media[k] = mid;
            it->pos[k] = mid ? pos : pos + (llama_pos)j;
            it->chunk[k] = c;
        }
        pos += ci.type == LLAMAC_CHUNK_TEXT ? (llama_pos)ci.n_tokens : ci.n_pos;
    }
    it->n = k;
    it->end = pos;
    return LLAMAC_OK;
}

struct eval_from {
    llamac_mmproj *proj;
    const llamac_chunks *chunks;
    size_t first, skip;
    llama_pos n_past;
};

static llamac_status eval_chunks(void *user_data, llamac_context *ctx, llamac_seq_id seq, llama_pos *n_past) {
    struct eval_from *e = user_data;
    return llamac__mmproj_eval_from(e->proj, ctx, seq, e->chunks, e->first, e->skip, e->n_past, n_past);
}

llamac_status llamac__chat_generate_chunks(llamac_chat *chat, const llamac_chunks *chunks,
                                           const llamac_generate_params *gp, llamac_generate_result *res,
                                           size_t *n_reused) {
    *n_reused = 0;
    struct items it = { 0 };
    llamac_token *text = NULL, *decoded = NULL;
    size_t n_text = 0, n_dec = 0;
    llamac_status st = build_items(chat, chunks, &it);
    if (st == LLAMAC_OK && (it.n == 0 || !llamac__chunks_end_in_text(chunks))) {
        st = llamac__fail(LLAMAC_E_TEMPLATE, "the rendered conversation does not end with text to answer from");
    }
    if (st == LLAMAC_OK) {
        st = llamac__chunks_text_tokens(chunks, &text, &n_text);
    }
    if (st == LLAMAC_OK && !(decoded = llamac__malloc((chat->cap_cache + 1) * sizeof *decoded))) {
        st = LLAMAC_E_NO_MEMORY;
    }
    if (st != LLAMAC_OK) {
        goto done;
    }
    /* The longest common prefix with the cache, cut back to the start of a medium it ends inside, and short of the
     * last item, whose logits start the reply. */
    llamac__chat_cache_sync(chat);
    size_t lcp = 0;
    size_t n_valid = chat->cache_key == llamac__ctx_adapter_key(chat->ctx) ? chat->n_cache : 0; /* see chat.c */
    while (lcp < it.n && lcp < n_valid && chat->cache[lcp] == it.tok[lcp] && chat->cache_media[lcp] == it.media[lcp] &&
           chat->cache_pos[lcp] == it.pos[lcp]) {
        lcp++;
    }
    if (lcp >= it.n) {
        lcp = it.n - 1;
    }
    while (lcp > 0 && it.media[lcp] != 0 && it.chunk[lcp - 1] == it.chunk[lcp]) {
        lcp--;
    }
    size_t first = it.chunk[lcp], skip = 0;
    while (skip < lcp && it.chunk[lcp - skip - 1] == first) {
        skip++;
    }
    struct eval_from ef = { chat->proj, chunks, first, skip, it.pos[lcp] };
    struct llamac__gen_prompt prompt = { .eval = eval_chunks,
                                         .eval_data = &ef,
                                         .keep_pos = it.pos[lcp],
                                         .accept = text,
                                         .n_accept = n_text,
                                         .n_total = it.n,
                                         .n_decode = it.n - lcp,
                                         .n_pos = it.end };
    *n_reused = lcp;
    st = llamac__generate_run(chat->ctx, &prompt, gp, res, decoded, chat->cap_cache, &n_dec);
    llamac_context *ctx = chat->ctx;
    if (st != LLAMAC_OK) {
        /* What the sequence holds past the common prefix is unknown now: drop it. */
        llama_memory_seq_rm(llama_get_memory(ctx->lc), chat->gen.seq, it.pos[lcp], -1);
        chat->n_cache = lcp < chat->n_cache ? lcp : chat->n_cache;
        goto done;
    }
    memcpy(chat->cache, it.tok, it.n * sizeof *it.tok);
    memcpy(chat->cache_media, it.media, it.n * sizeof *it.media);
    memcpy(chat->cache_pos, it.pos, it.n * sizeof *it.pos);
    size_t extra = n_dec < chat->cap_cache - it.n ? n_dec : chat->cap_cache - it.n;
    for (size_t i = 0; i < extra; i++) {
        chat->cache[it.n + i] = decoded[i];
        chat->cache_media[it.n + i] = 0;
        chat->cache_pos[it.n + i] = it.end + (llama_pos)i;
    }
    chat->n_cache = it.n + extra;
    chat->cache_key = llamac__ctx_adapter_key(ctx);
    llamac__chat_cache_sync(chat);
done:
    free(decoded);
    free(text);
    items_free(&it);
    return st;
}
