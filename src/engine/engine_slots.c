/*
 * engine_slots.c - a slot's cache saved to a file, restored from one, or erased (llama-server's POST
 * /slots/N?action=save|restore|erase).
 *
 * The caller's thread queues an action and waits; the engine thread runs it between two steps once the slot is
 * idle, since only that thread touches the context. The file is llama.cpp's sequence state file, written by
 * llama_state_seq_save_file (and read here with checks, see slot_restore), with llama-server's packed token list in
 * its token field
 * (LLAMA_TOKEN_NULL, version 1, the count, the tokens, then the count of media chunks: 0), so that a file written by
 * either server restores in the other; a plain token list (what older llama-server versions wrote) is read too.
 * Everything the file says is checked before the slot uses it: the tokens against the vocabulary and the slot's
 * context, and the count against the positions the state put into the cache.
 */
#include "engine/engine_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define PACKED_VERSION 1u
#define PACKED_HEADER 3 /* LLAMA_TOKEN_NULL, the version, the token count */

/* Records why the action failed, as "WHAT 'PATH': WHY". */
static llamac_status act_fail(struct eng_action *a, llamac_status st, const char *what, const char *why) {
    snprintf(a->error, sizeof a->error, "%s '%s': %s", what, a->path, why);
    return st;
}

/* Writes the slot's cache through a temporary file beside `path`, renamed over it once complete. */
static llamac_status slot_save(llamac_engine *e, struct eng_slot *s, struct eng_action *a) {
    if (!llamac__eng_unpark(e, s)) {
        s->n_cache = 0;
    }
    if (s->n_media > 0) {
        return act_fail(a, LLAMAC_E_UNSUPPORTED, "cannot save slot file",
                        "the slot's cache holds media (images or audio), which a slot file does not record");
    }
    size_t n = s->n_cache;
    llama_token *packed = llamac__malloc((PACKED_HEADER + n + 1) * sizeof *packed);
    size_t plen = strlen(a->path);
    char *tmp = llamac__malloc(plen + 16);
    llamac_status st = LLAMAC_OK;
    int fd = -1;
    if (!packed || !tmp) {
        st = act_fail(a, LLAMAC_E_NO_MEMORY, "cannot save slot file", "out of memory");
        goto done;
    }
    packed[0] = LLAMA_TOKEN_NULL;
    packed[1] = (llama_token)PACKED_VERSION;
    packed[2] = (llama_token)n;
    memcpy(packed + PACKED_HEADER, s->cache, n * sizeof *packed);
    packed[PACKED_HEADER + n] = 0; /* media chunks */
    snprintf(tmp, plen + 16, "%s.tmp.XXXXXX", a->path);
    fd = mkstemp(tmp); /* 0600: the file holds a conversation */
    if (fd < 0) {
        st = act_fail(a, LLAMAC_E_IO, "cannot write slot file", strerror(errno));
        goto done;
    }
    llamac__capture_begin();
    size_t written = llama_state_seq_save_file(e->ctx->lc, tmp, s->id, packed, PACKED_HEADER + n + 1);
    const char *why = llamac__capture_end();
    if (written == 0) {
        unlink(tmp);
        st = act_fail(a, LLAMAC_E_IO, "cannot write slot file", why[0] ? why : "llama.cpp could not write it");
        goto done;
    }
    if (fsync(fd) != 0 || rename(tmp, a->path) != 0) {
        int err = errno;
        unlink(tmp);
        st = act_fail(a, LLAMAC_E_IO, "cannot write slot file", strerror(err));
        goto done;
    }
    a->n_tokens = n;
    a->n_bytes = written;
done:
    if (fd >= 0) {
        close(fd);
    }
    free(tmp);
    free(packed);
    return st;
}

/* The tokens of a file's token field: llama-server's packed form, or a plain list. NULL (with the reason in a) when
 * it is neither. */
static const llama_token *unpack(struct eng_action *a, const llama_token *w, size_t n_words, size_t *n) {
    if (n_words == 0 || w[0] != LLAMA_TOKEN_NULL) {
        *n = n_words; /* a plain token list */
        return w;
    }
    if (n_words < PACKED_HEADER + 1 || (uint32_t)w[1] != PACKED_VERSION ||
        (size_t)(uint32_t)w[2] > n_words - PACKED_HEADER - 1) {
        act_fail(a, LLAMAC_E_STATE, "cannot restore slot file",
                 n_words >= 2 && (uint32_t)w[1] != PACKED_VERSION ? "unsupported token list version"
                                                                  : "the token list is cut short");
        return NULL;
    }
    *n = (uint32_t)w[2];
    size_t rest = n_words - PACKED_HEADER - *n;
    if ((uint32_t)w[PACKED_HEADER + *n] != 0) {
        act_fail(a, LLAMAC_E_STATE, "cannot restore slot file",
                 "it holds media chunks (images, audio), which llamac serve cannot restore");
        return NULL;
    }
    if (rest != 1) {
        act_fail(a, LLAMAC_E_STATE, "cannot restore slot file", "trailing data after the token list");
        return NULL;
    }
    return w + PACKED_HEADER;
}

/* Reads the whole file at a->path into *buf (malloc), `room` bytes free before its contents. */
static llamac_status read_file(struct eng_action *a, size_t room, unsigned char **buf, size_t *size) {
    *buf = NULL;
    FILE *f = fopen(a->path, "rb");
    if (!f) {
        return act_fail(a, LLAMAC_E_IO, "cannot open slot file", strerror(errno));
    }
    struct stat info;
    memset(&info, 0, sizeof info);
    llamac_status st = LLAMAC_OK;
    if (fstat(fileno(f), &info) != 0) {
        st = act_fail(a, LLAMAC_E_IO, "cannot read slot file", strerror(errno));
    } else if (!S_ISREG(info.st_mode)) {
        st = act_fail(a, LLAMAC_E_IO, "cannot read slot file",
                      S_ISDIR(info.st_mode) ? "it is a directory" : "not a regular file");
    } else if (!(*buf = llamac__malloc(room + (size_t)info.st_size + 1))) {
        st = act_fail(a, LLAMAC_E_NO_MEMORY, "cannot restore slot file", "out of memory");
    } else if (fread(*buf + room, 1, (size_t)info.st_size, f) != (size_t)info.st_size) {
        st = act_fail(a, LLAMAC_E_IO, "cannot read slot file", strerror(errno ? errno : EIO));
    }
    fclose(f);
    if (st != LLAMAC_OK) {
        free(*buf);
        *buf = NULL;
    }
    *size = (size_t)info.st_size;
    return st;
}

/* Replaces the slot's cache with the file's; on failure the slot is left empty.
 *
 * llama.cpp's own loader (llama_state_seq_load_file) trusts the file: one cut short aborts the process. So the file
 * is read and its header checked here, and its state handed to llama.cpp as an in-memory sequence state, which it
 * reads with bounds checks: the file's state bytes are what llama_state_seq_get_data writes after its first 8 bytes
 * (a magic number and the sequence id), which are taken from the state of the slot's sequence once emptied. */
static llamac_status slot_restore(llamac_engine *e, struct eng_slot *s, struct eng_action *a) {
    llamac__eng_park_drop(e, s);
    llamac_ctx_seq_rm(e->ctx, s->id, -1, -1);
    s->n_cache = 0;
    s->park_refused = 0;
    struct llama_context *lc = e->ctx->lc;
    const size_t prefix = 8, head = 3 * sizeof(uint32_t);
    unsigned char *buf = NULL, *empty = NULL;
    size_t size = 0;
    llamac_status st = read_file(a, prefix, &buf, &size);
    if (st != LLAMAC_OK) {
        return st;
    }
    uint32_t h[3] = { 0, 0, 0 };
    if (size >= head) {
        memcpy(h, buf + prefix, head);
    }
    size_t cap = PACKED_HEADER + (size_t)e->n_ctx_slot + 1;
    llama_token *w = NULL;
    const llama_token *tokens = NULL;
    size_t n = 0;
    llamac_pos pos_max = -1;
    if (size < head || h[0] != LLAMA_STATE_SEQ_MAGIC || h[1] != LLAMA_STATE_SEQ_VERSION) {
        st = act_fail(a, LLAMAC_E_STATE, "cannot restore slot file", "not a llama.cpp sequence state file");
        goto done;
    }
    if (h[2] > cap) {
        char reason[128];
        snprintf(reason, sizeof reason, "%u tokens; a slot holds %u", h[2], e->n_ctx_slot);
        st = act_fail(a, LLAMAC_E_STATE, "cannot restore slot file", reason);
        goto done;
    }
    size_t n_words = h[2], at = prefix + head + n_words * sizeof(llama_token);
    if (at > prefix + size) {
        st = act_fail(a, LLAMAC_E_STATE, "cannot restore slot file", "the token list is cut short");
        goto done;
    }
    w = llamac__malloc((n_words ? n_words : 1) * sizeof *w);
    if (!w) {
        st = act_fail(a, LLAMAC_E_NO_MEMORY, "cannot restore slot file", "out of memory");
        goto done;
    }
    memcpy(w, buf + prefix + head, n_words * sizeof *w);
    if (!(tokens = unpack(a, w, n_words, &n))) {
        st = LLAMAC_E_STATE;
        goto done;
    }
    if (n > e->n_ctx_slot) {
        char reason[128];
        snprintf(reason, sizeof reason, "%zu tokens; a slot holds %u", n, e->n_ctx_slot);
        st = act_fail(a, LLAMAC_E_STATE, "cannot restore slot file", reason);
        goto done;
    }
    if (llamac__tokens_check(e->model, tokens, n) != LLAMAC_OK) {
        st = act_fail(a, LLAMAC_E_STATE, "cannot restore slot file", llamac_last_error());
        goto done;
    }
    size_t empty_size = llama_state_seq_get_size(lc, s->id);
    empty = empty_size >= prefix ? llamac__malloc(empty_size) : NULL;
    if (!empty || llama_state_seq_get_data(lc, empty, empty_size, s->id) < prefix) {
        st = act_fail(a, LLAMAC_E_INTERNAL, "cannot restore slot file", "llama.cpp gave no sequence state header");
        goto done;
    }
    unsigned char *state = buf + at - prefix; /* the header goes where the token list was (copied out above) */
    memcpy(state, empty, prefix);
    size_t state_size = prefix + size - (at - prefix);
    llamac__capture_begin();
    size_t read = llama_state_seq_set_data(lc, state, state_size, s->id);
    const char *why = llamac__capture_end();
    if (read != state_size) {
        char reason[600];
        snprintf(reason, sizeof reason, "%s%s%s",
                 read == 0 ? "not a sequence state of this model and context" : "trailing data after the state",
                 why[0] ? ": " : "", why);
        st = act_fail(a, LLAMAC_E_STATE, "cannot restore slot file", reason);
    } else if (llamac_ctx_seq_pos_max(e->ctx, s->id, &pos_max) != LLAMAC_OK || (size_t)(pos_max + 1) != n) {
        char reason[160];
        snprintf(reason, sizeof reason, "its token list (%zu) does not match the positions of its state (%lld)", n,
                 (long long)pos_max + 1);
        st = act_fail(a, LLAMAC_E_STATE, "cannot restore slot file", reason);
    }
done:
    if (st == LLAMAC_OK) {
        memcpy(s->cache, tokens, n * sizeof *s->cache);
        s->n_cache = n;
        a->n_tokens = n;
        a->n_bytes = size;
    } else {
        llamac_ctx_seq_rm(e->ctx, s->id, -1, -1);
    }
    free(empty);
    free(w);
    free(buf);
    return st;
}

/* key: the LoRA set of requests that name none, which restored cells are taken to be computed under (a file does
 * not say). */
static void run_action(llamac_engine *e, struct eng_action *a, uint64_t key) {
    struct eng_slot *s = &e->slots[a->slot];
    switch (a->kind) {
    case ENG_SLOT_SAVE: a->status = slot_save(e, s, a); break;
    case ENG_SLOT_RESTORE:
        a->status = slot_restore(e, s, a);
        s->cache_key = key;
        s->n_media = 0; /* restored or emptied: no media (a slot file holds none) */
        break;
    case ENG_SLOT_ERASE:
        a->n_tokens = s->n_cache;
        llamac__eng_park_drop(e, s);
        llamac_ctx_seq_rm(e->ctx, s->id, -1, -1);
        s->n_cache = 0;
        s->n_media = 0;
        s->park_refused = 0;
        a->status = LLAMAC_OK;
        break;
    }
}

void llamac__eng_run_actions(llamac_engine *e, bool shutdown) {
    struct eng_action **link = &e->actions;
    while (*link) {
        struct eng_action *a = *link;
        struct eng_slot *s = &e->slots[a->slot];
        if (!shutdown && s->req) {
            link = &a->next; /* the slot is busy: after its request */
            continue;
        }
        *link = a->next;
        if (shutdown) {
            a->status = LLAMAC_E_BUSY;
            snprintf(a->error, sizeof a->error, "the engine is shutting down");
        } else {
            uint64_t key = llamac__lora_key(e->adapters, e->n_adapters);
            pthread_mutex_unlock(&e->lock);
            run_action(e, a, key);
            pthread_mutex_lock(&e->lock);
            s->pub.n_cached = (uint32_t)s->n_cache;
            s->pub.parked = s->parked != NULL;
        }
        a->done = true;
        pthread_cond_broadcast(&e->acted);
        link = &e->actions; /* the list may have changed while the lock was released */
    }
}

/* Queues the action and waits for the engine thread to run it. */
static llamac_status act(llamac_engine *e, struct eng_action *a, const char *what) {
    if (!e || (a->kind != ENG_SLOT_ERASE && !a->path)) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "%s: NULL argument", what);
    }
    if (a->slot >= e->params.n_slots) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "%s: slot %u does not exist (the engine has %u)", what, a->slot,
                            e->params.n_slots);
    }
    pthread_mutex_lock(&e->lock);
    if (!e->accepting) {
        pthread_mutex_unlock(&e->lock);
        return llamac__fail(LLAMAC_E_BUSY, "%s: the engine is shutting down", what);
    }
    struct eng_action **link = &e->actions;
    while (*link) {
        link = &(*link)->next;
    }
    *link = a;
    pthread_cond_signal(&e->wake);
    while (!a->done) {
        pthread_cond_wait(&e->acted, &e->lock);
    }
    pthread_mutex_unlock(&e->lock);
    return a->status == LLAMAC_OK ? llamac__ok() : llamac__fail(a->status, "%s", a->error);
}

llamac_status llamac_engine_slot_save(llamac_engine *engine, uint32_t slot, const char *path, size_t *n_tokens,
                                      size_t *n_bytes) {
    struct eng_action a = { .kind = ENG_SLOT_SAVE, .slot = slot, .path = path };
    llamac_status st = act(engine, &a, "llamac_engine_slot_save");
    if (n_tokens) {
        *n_tokens = a.n_tokens;
    }
    if (n_bytes) {
        *n_bytes = a.n_bytes;
    }
    return st;
}

llamac_status llamac_engine_slot_restore(llamac_engine *engine, uint32_t slot, const char *path, size_t *n_tokens,
                                         size_t *n_bytes) {
    struct eng_action a = { .kind = ENG_SLOT_RESTORE, .slot = slot, .path = path };
    llamac_status st = act(engine, &a, "llamac_engine_slot_restore");
    if (n_tokens) {
        *n_tokens = a.n_tokens;
    }
    if (n_bytes) {
        *n_bytes = a.n_bytes;
    }
    return st;
}

llamac_status llamac_engine_slot_erase(llamac_engine *engine, uint32_t slot, size_t *n_tokens) {
    struct eng_action a = { .kind = ENG_SLOT_ERASE, .slot = slot };
    llamac_status st = act(engine, &a, "llamac_engine_slot_erase");
    if (n_tokens) {
        *n_tokens = a.n_tokens;
    }
    return st;
}
