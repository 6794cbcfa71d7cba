/*
 * chat_state.c - saving a chat session (messages + its sequence's KV cache) to a file and restoring it.
 *
 * Like the context state files of core/state.c, a session file is verified completely (magic, version, model
 * fingerprint, sizes, checksum, the messages) before anything changes, and the sequence is snapshotted so that a
 * rejection by llama.cpp itself leaves it as it was. Only the session's own sequence is saved, so sessions on
 * other sequences of the same context are not disturbed. The layout (native byte order):
 *   "LLAMACCS" | u32 version | u32 header size | u64 fingerprint | u64 json size | u64 n_tokens | u64 state size
 *   | u64 checksum | json {"messages":[...]} | n_tokens x i32 tokens | sequence state bytes
 */
#include "chat/chat_internal.h"
#include "core/outfile.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CHAT_MAGIC "LLAMACCS"
#define CHAT_VERSION 1u

struct chat_header {
    char magic[8];
    uint32_t version;
    uint32_t header_size;
    uint64_t fingerprint;
    uint64_t json_size;
    uint64_t n_tokens;
    uint64_t state_size;
    uint64_t checksum;
};

static uint64_t fnv1a(uint64_t h, const void *data, size_t n) {
    const unsigned char *p = data;
    for (size_t i = 0; i < n; i++) {
        h = (h ^ p[i]) * 1099511628211ull;
    }
    return h;
}

llamac_status llamac_chat_save(llamac_chat *chat, const char *path) {
    if (!chat || !path) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "llamac_chat_save: NULL argument");
    }
    llamac__chat_cache_sync(chat);
    bool media_cached = false;
    for (size_t i = 0; chat->cache_media && i < chat->n_cache && !media_cached; i++) {
        media_cached = chat->cache_media[i] != 0;
    }
    if (chat->n_media > 0 || media_cached) {
        return llamac__fail(LLAMAC_E_UNSUPPORTED,
                            "the session holds media, which session files do not store (llamac_chat_clear first)");
    }
    struct llama_context *lc = chat->ctx->lc;
    llamac_status st = LLAMAC_OK;
    char *json = NULL;
    unsigned char *state = NULL;
    json_t *doc = NULL;
    struct llamac__outfile out = LLAMAC__OUTFILE_INIT;
    bool writing = false;
    char *messages = NULL;
    if ((st = llamac_chat_messages_json(chat, &messages)) != LLAMAC_OK) {
        goto done;
    }
    doc = json_pack("{s:o}", "messages", json_loads(messages, 0, NULL));
    json = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
    size_t state_size = llama_state_seq_get_size(lc, chat->gen.seq);
    state = llamac__malloc(state_size ? state_size : 1);
    if (!json || !state) {
        st = llamac__fail(LLAMAC_E_NO_MEMORY, "out of memory saving the chat session");
        goto done;
    }
    size_t wrote = llama_state_seq_get_data(lc, state, state_size, chat->gen.seq);
    if (wrote != state_size) {
        st = llamac__fail(LLAMAC_E_INTERNAL, "llama.cpp wrote %zu of %zu sequence state bytes", wrote, state_size);
        goto done;
    }
    struct chat_header h;
    memset(&h, 0, sizeof h);
    memcpy(h.magic, CHAT_MAGIC, 8);
    h.version = CHAT_VERSION;
    h.header_size = (uint32_t)sizeof h;
    h.fingerprint = chat->ctx->model->fingerprint;
    h.json_size = strlen(json);
    h.n_tokens = chat->n_cache;
    h.state_size = state_size;
    uint64_t sum = fnv1a(14695981039346656037ull, json, (size_t)h.json_size);
    sum = fnv1a(sum, chat->cache, chat->n_cache * sizeof(llamac_token));
    h.checksum = fnv1a(sum, state, state_size);
    /* written beside the path and renamed into place (core/outfile.c): a session file is whole or absent */
    writing = true;
    if ((st = llamac__out_open(&out, path)) != LLAMAC_OK || (st = llamac__out_write(&out, &h, sizeof h)) != LLAMAC_OK ||
        (st = llamac__out_write(&out, json, (size_t)h.json_size)) != LLAMAC_OK ||
        (st = llamac__out_write(&out, chat->cache, chat->n_cache * sizeof(llamac_token))) != LLAMAC_OK ||
        (st = llamac__out_write(&out, state, state_size)) != LLAMAC_OK ||
        (st = llamac__out_finish(&out)) != LLAMAC_OK || (st = llamac__out_commit(&out)) != LLAMAC_OK) {
        goto done;
    }
    st = llamac__ok();
done:
    if (writing && st != LLAMAC_OK) { /* the reason, under the name of what was being saved */
        char reason[512];
        snprintf(reason, sizeof reason, "%s", llamac_last_error());
        st = llamac__fail(st, "cannot save the chat session to '%s': %s", path, reason);
    }
    llamac__out_discard(&out);
    free(messages);
    free(json);
    free(state);
    json_decref(doc);
    return st;
}

static llamac_status read_file(const char *path, unsigned char **out, size_t *size) {
    *out = NULL;
    *size = 0;
    FILE *f = fopen(path, "rb");
    if (!f) {
        return llamac__fail(LLAMAC_E_IO, "cannot open chat session '%s': %s", path, strerror(errno));
    }
    llamac_status st = LLAMAC_OK;
    struct stat info;
    long end = -1;
    unsigned char *buf = NULL;
    if (fstat(fileno(f), &info) != 0 || !S_ISREG(info.st_mode)) {
        st = llamac__fail(LLAMAC_E_IO, "cannot read chat session '%s': %s", path,
                          S_ISDIR(info.st_mode) ? "it is a directory" : "not a regular file");
    } else if (fseek(f, 0, SEEK_END) != 0 || (end = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0) {
        st = llamac__fail(LLAMAC_E_IO, "cannot read chat session '%s': %s", path, strerror(errno));
    } else if (!(buf = llamac__malloc(end > 0 ? (size_t)end : 1))) {
        st = LLAMAC_E_NO_MEMORY;
    } else if (fread(buf, 1, (size_t)end, f) != (size_t)end) {
        st = llamac__fail(LLAMAC_E_IO, "cannot read chat session '%s'", path);
    }
    fclose(f);
    if (st != LLAMAC_OK) {
        free(buf);
        return st;
    }
    *out = buf;
    *size = (size_t)end;
    return LLAMAC_OK;
}

/* Validates the file's header and messages; on success *messages holds the conversation (system first). */
static llamac_status parse_session(const llamac_chat *chat, const unsigned char *data, size_t size,
                                   struct chat_header *h, json_t **messages) {
    *messages = NULL;
    if (size < sizeof *h) {
        return llamac__fail(LLAMAC_E_STATE, "truncated: %zu bytes, the header alone is %zu", size, sizeof *h);
    }
    memcpy(h, data, sizeof *h);
    if (memcmp(h->magic, CHAT_MAGIC, 8) != 0) {
        return llamac__fail(LLAMAC_E_STATE, "not a llamac chat session (bad magic)");
    }
    if (h->version != CHAT_VERSION || h->header_size != sizeof *h) {
        return llamac__fail(LLAMAC_E_STATE, "unsupported chat session version %u (this library reads version %u)",
                            h->version, CHAT_VERSION);
    }
    if (h->fingerprint != chat->ctx->model->fingerprint) {
        return llamac__fail(LLAMAC_E_STATE,
                            "the session was saved with a different model (fingerprint %016llx, this model %016llx)",
                            (unsigned long long)h->fingerprint, (unsigned long long)chat->ctx->model->fingerprint);
    }
    if (h->n_tokens > chat->cap_cache) {
        return llamac__fail(LLAMAC_E_STATE, "the session holds %llu tokens; this context's sequence holds %zu",
                            (unsigned long long)h->n_tokens, chat->cap_cache);
    }
    uint64_t rest = size - sizeof *h;
    if (h->json_size > rest || h->state_size > rest ||
        rest != h->json_size + h->n_tokens * sizeof(llamac_token) + h->state_size) {
        return llamac__fail(
            LLAMAC_E_STATE, "the session is %zu bytes; its header describes %llu", size,
            (unsigned long long)(sizeof *h + h->json_size + h->n_tokens * sizeof(llamac_token) + h->state_size));
    }
    const unsigned char *p = data + sizeof *h;
    size_t tok_bytes = (size_t)h->n_tokens * sizeof(llamac_token);
    uint64_t sum = fnv1a(14695981039346656037ull, p, (size_t)h->json_size);
    sum = fnv1a(sum, p + h->json_size, tok_bytes);
    sum = fnv1a(sum, p + h->json_size + tok_bytes, (size_t)h->state_size);
    if (sum != h->checksum) {
        return llamac__fail(LLAMAC_E_STATE, "the session is corrupt (checksum mismatch)");
    }
    json_error_t err;
    json_t *doc = json_loadb((const char *)p, (size_t)h->json_size, 0, &err);
    json_t *msgs = doc ? json_object_get(doc, "messages") : NULL;
    if (!json_is_array(msgs)) {
        json_decref(doc);
        return llamac__fail(LLAMAC_E_STATE, "the session's messages are not a JSON array");
    }
    for (size_t i = 0; i < json_array_size(msgs); i++) {
        if (llamac__chat_check_message(json_array_get(msgs, i), i == 0) != LLAMAC_OK) {
            char why[512];
            snprintf(why, sizeof why, "%s", llamac_last_error());
            json_decref(doc);
            return llamac__fail(LLAMAC_E_STATE, "the session's message %zu is invalid: %s", i, why);
        }
    }
    *messages = json_incref(msgs);
    json_decref(doc);
    return LLAMAC_OK;
}

llamac_status llamac_chat_load(llamac_chat *chat, const char *path) {
    if (!chat || !path) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "llamac_chat_load: NULL argument");
    }
    unsigned char *data = NULL, *backup = NULL;
    size_t size = 0;
    json_t *msgs = NULL;
    char *system = NULL;
    struct chat_header h;
    llamac_status st = read_file(path, &data, &size);
    if (st != LLAMAC_OK) {
        return st;
    }
    if ((st = parse_session(chat, data, size, &h, &msgs)) != LLAMAC_OK) {
        char why[700];
        snprintf(why, sizeof why, "%s", llamac_last_error());
        st = llamac__fail(st, "chat session '%s': %s", path, why);
        goto done;
    }
    const unsigned char *tok_src = data + sizeof h + h.json_size;
    const unsigned char *state_src = tok_src + h.n_tokens * sizeof(llamac_token);
    llamac_token *toks = llamac__malloc(h.n_tokens * sizeof(llamac_token) + 1);
    if (!toks) {
        st = LLAMAC_E_NO_MEMORY;
        goto done;
    }
    memcpy(toks, tok_src, (size_t)h.n_tokens * sizeof(llamac_token));
    st = llamac__tokens_check(chat->ctx->model, toks, (size_t)h.n_tokens);
    free(toks);
    if (st != LLAMAC_OK) {
        st = llamac__fail(LLAMAC_E_STATE, "chat session '%s': its tokens are outside the vocabulary", path);
        goto done;
    }
    json_t *first = json_array_get(msgs, 0);
    const char *role = json_string_value(json_object_get(first, "role"));
    if (role && strcmp(role, "system") == 0) {
        const char *c = json_string_value(json_object_get(first, "content"));
        if (!(system = llamac__strndup(c ? c : "", c ? json_string_length(json_object_get(first, "content")) : 0))) {
            st = LLAMAC_E_NO_MEMORY;
            goto done;
        }
        json_array_remove(msgs, 0);
    }
    /* Snapshot the sequence, so that a rejection by llama.cpp leaves it as it was. */
    struct llama_context *lc = chat->ctx->lc;
    size_t backup_size = llama_state_seq_get_size(lc, chat->gen.seq);
    if (!(backup = llamac__malloc(backup_size ? backup_size : 1))) {
        st = LLAMAC_E_NO_MEMORY;
        goto done;
    }
    llama_state_seq_get_data(lc, backup, backup_size, chat->gen.seq);
    llamac__capture_begin();
    size_t read = llama_state_seq_set_data(lc, state_src, (size_t)h.state_size, chat->gen.seq);
    const char *why = llamac__capture_end();
    if (read == 0 || read != h.state_size) {
        st = llamac__fail(LLAMAC_E_STATE, "chat session '%s': llama.cpp rejected the sequence state%s%s", path,
                          why[0] ? ": " : "", why);
        llama_state_seq_set_data(lc, backup, backup_size, chat->gen.seq);
        goto done;
    }
    chat->ctx->n_outputs = -1;
    memcpy(chat->cache, tok_src, (size_t)h.n_tokens * sizeof(llamac_token));
    chat->n_cache = (size_t)h.n_tokens;
    chat->cache_key = llamac__ctx_adapter_key(chat->ctx); /* a saved state does not say what computed it */
    llamac__chat_cache_mark_text(chat, 0, chat->n_cache);
    llamac__chat_cache_sync(chat);
    llamac__chat_drop_media(chat, json_array_size(chat->messages));
    json_decref(chat->messages);
    chat->messages = msgs;
    msgs = NULL;
    free(chat->system);
    chat->system = system;
    system = NULL;
    st = llamac__ok();
done:
    free(system);
    json_decref(msgs);
    free(backup);
    free(data);
    return st;
}
